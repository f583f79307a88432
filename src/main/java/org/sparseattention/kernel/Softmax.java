package org.sparseattention.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Row softmax helpers on plain arrays, vectorised with the JDK's Vector API: ND4J's elementwise
 * exp costs several times more per float, and each ND4J call costs more than a tile's exp.
 */
final class Softmax {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;

    private Softmax() {
    }

    /** Returns the largest of {@code values[offset .. offset + length)}. */
    static float max(float[] values, int offset, int length) {
        int i = 0;
        float max = Float.NEGATIVE_INFINITY;
        int bound = SPECIES.loopBound(length);
        if (bound > 0) {
            FloatVector acc = FloatVector.broadcast(SPECIES, Float.NEGATIVE_INFINITY);
            for (; i < bound; i += SPECIES.length()) {
                acc = acc.max(FloatVector.fromArray(SPECIES, values, offset + i));
            }
            max = acc.reduceLanes(VectorOperators.MAX);
        }
        for (; i < length; i++) {
            max = Math.max(max, values[offset + i]);
        }
        return max;
    }

    /**
     * Replaces {@code values[offset .. offset + length)} by {@code exp(value - shift)} and
     * returns their sum in double precision.
     */
    static double expShifted(float[] values, int offset, int length, float shift) {
        int i = 0;
        double sum = 0;
        int bound = SPECIES.loopBound(length);
        if (bound > 0) {
            FloatVector acc = FloatVector.zero(SPECIES);
            for (; i < bound; i += SPECIES.length()) {
                FloatVector e = FloatVector.fromArray(SPECIES, values, offset + i)
                        .sub(shift).lanewise(VectorOperators.EXP);
                e.intoArray(values, offset + i);
                acc = acc.add(e);
            }
            sum = acc.reduceLanes(VectorOperators.ADD);
        }
        for (; i < length; i++) {
            float e = (float) Math.exp(values[offset + i] - shift);
            values[offset + i] = e;
            sum += e;
        }
        return sum;
    }
}
