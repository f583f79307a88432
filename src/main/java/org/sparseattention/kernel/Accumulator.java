package org.sparseattention.kernel;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The merged attention of all rows of one batch item, built by merging partial results in a
 * fixed order (README.md, "What is computed").
 *
 * <p>Holds {@code output [L, E]} and {@code logSumExp [L, H]}; rows start empty
 * (output 0, log-sum-exp {@code -inf}), which is also the final value of a row that no partial
 * gives a key.
 */
public final class Accumulator {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private final int heads;
    private final int headDim;
    private final float[] output;
    private final int outputOffset;
    private final float[] logSumExp;

    public Accumulator(int rows, int heads, int headDim) {
        this(new float[Math.multiplyExact(rows, heads * headDim)], 0, rows, heads, headDim);
    }

    /**
     * Returns an accumulator that keeps its output in {@code output} from {@code outputOffset} on,
     * whatever that holds: a row and head take their first partial as it is, and
     * {@link #zeroEmpty} writes zeros to those no partial reached.
     */
    public Accumulator(float[] output, int outputOffset, int rows, int heads, int headDim) {
        this.heads = heads;
        this.headDim = headDim;
        this.output = output;
        this.outputOffset = outputOffset;
        this.logSumExp = new float[rows * heads];
        Arrays.fill(logSumExp, Float.NEGATIVE_INFINITY);
    }

    /** Returns the output array, {@code [L, E]} row-major from the offset given at construction. */
    public float[] output() {
        return output;
    }

    /** Returns the log-sum-exp, {@code [L, H]} row-major. */
    public float[] logSumExp() {
        return logSumExp;
    }

    /** Writes zeros to the output of every row and head no partial has given a key yet. */
    public void zeroEmpty() {
        for (int i = 0; i < logSumExp.length; i++) {
            if (logSumExp[i] == Float.NEGATIVE_INFINITY) {
                int at = outputOffset + i * headDim;
                Arrays.fill(output, at, at + headDim, 0f);
            }
        }
    }

    /** Merges {@code partial} into the rows it covers; call in chunk order for reproducible bits. */
    public void merge(Partial partial) {
        int rowLength = heads * headDim;
        for (int r = 0; r < partial.rows(); r++) {
            int row = partial.positions()[r];
            for (int h = 0; h < heads; h++) {
                mergeHead(output, outputOffset + row * rowLength + h * headDim, logSumExp, row * heads + h,
                        partial.output(), r * rowLength + h * headDim, partial.logSumExp()[r * heads + h], headDim);
            }
        }
    }

    /**
     * Merges one head of one row: {@code (acc, accLse) <- merge((acc, accLse), (part, partLse))}.
     * An empty share ({@code -inf}) changes nothing; an empty accumulator takes the share as is.
     */
    static void mergeHead(float[] acc, int accOffset, float[] accLse, int accLseIndex,
            float[] part, int partOffset, float partLse, int length) {
        if (partLse == Float.NEGATIVE_INFINITY) {
            return;
        }
        float current = accLse[accLseIndex];
        if (current == Float.NEGATIVE_INFINITY) {
            System.arraycopy(part, partOffset, acc, accOffset, length);
            accLse[accLseIndex] = partLse;
            return;
        }
        // With M the larger and m the smaller log-sum-exp, e = exp(m - M) and s = 1 + e:
        // merged = M + log s, and the weights are 1/s (larger) and e/s (smaller).
        double max = Math.max(current, partLse);
        double e = Math.exp(Math.min(current, partLse) - max);
        double s = 1 + e;
        double merged = max + Math.log1p(e);
        float larger = (float) (1 / s);
        float smaller = (float) (e / s);
        float accWeight = current >= partLse ? larger : smaller;
        float partWeight = current >= partLse ? smaller : larger;
        int d = 0;
        for (int bound = SPECIES.loopBound(length); d < bound; d += SPECIES.length()) {
            FloatVector a = FloatVector.fromArray(SPECIES, acc, accOffset + d).mul(accWeight);
            a.add(FloatVector.fromArray(SPECIES, part, partOffset + d).mul(partWeight)).intoArray(acc, accOffset + d);
        }
        for (; d < length; d++) {
            acc[accOffset + d] = acc[accOffset + d] * accWeight + part[partOffset + d] * partWeight;
        }
        accLse[accLseIndex] = (float) merged;
    }
}
