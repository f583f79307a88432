package org.sparseattention.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Softmax helpers on plain arrays, vectorised with the JDK's Vector API: ND4J's elementwise exp
 * costs several times more per float, and each ND4J call costs more than a tile's exp.
 *
 * <p>The exponential is computed here from correctly rounded operations only: fused multiply-adds,
 * additions and multiplications (Cephes' {@code expf}: Cody-Waite reduction by ln 2 and a degree-6
 * polynomial, the result {@code 2^n (1 + p)} in one fused multiply-add; relative error about
 * 1e-7), so every JVM, JIT tier and lane gives the same bits (a fused multiply-add rounds once,
 * compiled or not): the Vector API's own {@code EXP} differs in the last bit between the
 * interpreter and compiled code, which would make output bytes depend on how the work is spread.
 */
final class Softmax {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HIGH = 0.693359375f;
    private static final float LN2_LOW = -2.12194440e-4f;
    /** Below this exp underflows to 0. */
    private static final float LOWEST = -87.33654f;
    /**
     * The exponential is only taken of a score less a maximum of scores, at most 0: a larger input
     * is taken as 0, which also keeps {@code 2^n} a normal float (from 127.5 ln 2, about 88.38,
     * {@code n} would be 128 and {@code 2^n} infinite, and the result NaN).
     */
    private static final float HIGHEST = 0f;
    /** 1.5 * 2^23: adding it rounds to the nearest integer in the low mantissa bits. */
    private static final float ROUNDER = 12582912f;
    /**
     * {@code (127 - bits(ROUNDER)) << 23}: added to {@code bits(shifted) << 23} it gives the bits of
     * {@code 2^n}, since shifting distributes over addition modulo 2^32.
     */
    private static final int SCALE_BIAS = (127 - Float.floatToRawIntBits(ROUNDER)) << 23;
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;

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
     * returns their sum, added in a fixed order; {@code shift} is at least every value (their
     * maximum), as the exponential takes values above it as equal to it.
     */
    static double expShifted(float[] values, int offset, int length, float shift) {
        int bound = SPECIES.loopBound(length);
        float[] lanes = new float[SPECIES.length()];
        java.util.Arrays.fill(lanes, shift);
        expPass(values, offset, SPECIES.length(), bound / SPECIES.length(), lanes, lanes);
        double sum = 0;
        for (float lane : lanes) {
            sum += lane;
        }
        for (int i = bound; i < length; i++) {
            float e = exp(values[offset + i] - shift);
            values[offset + i] = e;
            sum += e;
        }
        return sum;
    }

    /**
     * Softmax over keys of transposed scores {@code s[c * ld + r]}, {@code c < keyCount}, for
     * every query column {@code r < ld}: replaces the scores by {@code exp(s - max)} and sets
     * {@code logSumExp[r]} and {@code inverseSum[r]}. A column whose every score is {@code -inf}
     * gets zeros, log-sum-exp {@code -inf} and inverse sum 0. Sums are added in key order.
     */
    static void columns(float[] s, int keyCount, int ld, float[] logSumExp, float[] inverseSum) {
        columns(s, keyCount, ld, logSumExp, inverseSum, null, null);
    }

    /**
     * The softmax of {@link #columns(float[], int, int, float[], float[])}, given for each vector of
     * query columns {@code v} (unless {@code keyFrom} is null) the keys {@code [keyFrom[v], keyTo[v])}
     * outside which its scores are all {@code -inf}: those are set to 0 without an exponential,
     * which gives the same bits for a column without NaN scores (with one, its weights inside the
     * range and its log-sum-exp are NaN either way).
     */
    static void columns(float[] s, int keyCount, int ld, float[] logSumExp, float[] inverseSum, int[] keyFrom,
            int[] keyTo) {
        // The exponential is written out here as in expPass rather than called: this method is then
        // too large for C2 to inline into the kernel's query-block loop. Inlined there, the whole
        // softmax made one compilation unit so large that some runs compiled it with vectors
        // boxed and spent 4-7 times the usual time in it.
        float[] sumLanes = new float[SPECIES.length()];
        FloatVector ln2High = FloatVector.broadcast(SPECIES, -LN2_HIGH);
        FloatVector ln2Low = FloatVector.broadcast(SPECIES, -LN2_LOW);
        FloatVector p2 = FloatVector.broadcast(SPECIES, P2);
        FloatVector p3 = FloatVector.broadcast(SPECIES, P3);
        FloatVector p4 = FloatVector.broadcast(SPECIES, P4);
        FloatVector p5 = FloatVector.broadcast(SPECIES, P5);
        int lanes = SPECIES.length();
        float[] maxima = new float[ld];
        // Maxima four query vectors at a time: the compiled lanewise maximum keeps Java's NaN and
        // signed-zero rules with a chain of several instructions, so one running maximum per
        // vector of queries waited on that chain at every key.
        int q = 0;
        for (; q + 4 * lanes <= ld; q += 4 * lanes) {
            FloatVector m0 = FloatVector.broadcast(SPECIES, Float.NEGATIVE_INFINITY);
            FloatVector m1 = m0;
            FloatVector m2 = m0;
            FloatVector m3 = m0;
            int from = 0;
            int to = keyCount;
            if (keyFrom != null) {
                int v = q / lanes;
                from = Math.min(Math.min(keyFrom[v], keyFrom[v + 1]), Math.min(keyFrom[v + 2], keyFrom[v + 3]));
                to = Math.max(Math.max(keyTo[v], keyTo[v + 1]), Math.max(keyTo[v + 2], keyTo[v + 3]));
            }
            for (int c = from, at = q + from * ld; c < to; c++, at += ld) {
                m0 = m0.max(FloatVector.fromArray(SPECIES, s, at));
                m1 = m1.max(FloatVector.fromArray(SPECIES, s, at + lanes));
                m2 = m2.max(FloatVector.fromArray(SPECIES, s, at + 2 * lanes));
                m3 = m3.max(FloatVector.fromArray(SPECIES, s, at + 3 * lanes));
            }
            m0.intoArray(maxima, q);
            m1.intoArray(maxima, q + lanes);
            m2.intoArray(maxima, q + 2 * lanes);
            m3.intoArray(maxima, q + 3 * lanes);
        }
        for (; q < ld; q += lanes) {
            FloatVector m = FloatVector.broadcast(SPECIES, Float.NEGATIVE_INFINITY);
            int from = keyFrom == null ? 0 : keyFrom[q / lanes];
            int to = keyFrom == null ? keyCount : keyTo[q / lanes];
            for (int c = from, at = q + from * ld; c < to; c++, at += ld) {
                m = m.max(FloatVector.fromArray(SPECIES, s, at));
            }
            m.intoArray(maxima, q);
        }
        for (int r = 0; r < ld; r += lanes) {
            FloatVector max = FloatVector.fromArray(SPECIES, maxima, r);
            FloatVector shift = max.blend(0f, max.eq(Float.NEGATIVE_INFINITY));
            FloatVector sum = FloatVector.zero(SPECIES);
            int from = keyFrom == null ? 0 : keyFrom[r / lanes];
            int to = keyFrom == null ? keyCount : keyTo[r / lanes];
            zeroColumns(s, r, 0, from, ld);
            zeroColumns(s, r, to, keyCount, ld);
            for (int c = from, at = r + from * ld; c < to; c++, at += ld) {
                FloatVector x = FloatVector.fromArray(SPECIES, s, at).sub(shift);
                VectorMask<Float> underflow = x.lt(LOWEST);
                // x is at most 0 or NaN (a score less its column's maximum; +inf less +inf is NaN),
                // so of exp's clamp to [LOWEST, HIGHEST] only the lower bound could apply, and the
                // lanes below it are set to 0 at the end: x needs no clamp here.
                FloatVector shifted = x.fma(LOG2E, ROUNDER);
                FloatVector n = shifted.sub(ROUNDER);
                FloatVector t = n.fma(ln2High, x);
                t = n.fma(ln2Low, t);
                FloatVector z = t.mul(t);
                FloatVector p = t.fma(P0, P1).fma(t, p2).fma(t, p3).fma(t, p4).fma(t, p5).fma(z, t);
                FloatVector scale = shifted.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23).add(SCALE_BIAS)
                        .reinterpretAsFloats();
                FloatVector e = p.fma(scale, scale).blend(0f, underflow);
                e.intoArray(s, at);
                sum = sum.add(e);
            }
            sum.intoArray(sumLanes, 0);
            for (int lane = 0; lane < lanes; lane++) {
                float total = sumLanes[lane];
                if (total > 0 || Float.isNaN(total)) {
                    logSumExp[r + lane] = (float) (maxima[r + lane] + Math.log(total));
                    inverseSum[r + lane] = 1f / total;
                } else {
                    logSumExp[r + lane] = Float.NEGATIVE_INFINITY;
                    inverseSum[r + lane] = 0f;
                }
            }
        }
    }

    /** Sets the vector of query columns at {@code r} to 0 for keys {@code [from, to)}. */
    private static void zeroColumns(float[] s, int r, int from, int to, int ld) {
        FloatVector zero = FloatVector.zero(SPECIES);
        for (int c = from, at = r + from * ld; c < to; c++, at += ld) {
            zero.intoArray(s, at);
        }
    }

    /**
     * Replaces {@code count} vectors of {@code s}, at {@code start}, {@code start + step}, ..., by
     * {@code exp(s - shift)} lane by lane (0 below {@link #LOWEST}, NaN stays NaN) and writes their
     * lane sums, added in that order, to {@code sums} ({@code shifts} may be the same array).
     *
     * <p>The exponential is written out in the loop rather than called: a method taking or
     * returning vectors that C2 declines to inline passes them as heap objects, which made the
     * softmax several times slower in some runs and not in others.
     */
    private static void expPass(float[] s, int start, int step, int count, float[] shifts, float[] sums) {
        FloatVector shift = FloatVector.fromArray(SPECIES, shifts, 0);
        FloatVector ln2High = FloatVector.broadcast(SPECIES, -LN2_HIGH);
        FloatVector ln2Low = FloatVector.broadcast(SPECIES, -LN2_LOW);
        FloatVector p2 = FloatVector.broadcast(SPECIES, P2);
        FloatVector p3 = FloatVector.broadcast(SPECIES, P3);
        FloatVector p4 = FloatVector.broadcast(SPECIES, P4);
        FloatVector p5 = FloatVector.broadcast(SPECIES, P5);
        FloatVector sum = FloatVector.zero(SPECIES);
        for (int i = 0, at = start; i < count; i++, at += step) {
            FloatVector x = FloatVector.fromArray(SPECIES, s, at).sub(shift);
            VectorMask<Float> underflow = x.lt(LOWEST);
            // min(x, HIGHEST), then max(.., LOWEST), NaN kept: two blends, cheaper than the
            // compiled lanewise minimum and maximum, which keep Java's signed-zero rules.
            FloatVector clamped = x.blend(HIGHEST, x.compare(VectorOperators.GT, HIGHEST)).blend(LOWEST, underflow);
            FloatVector shifted = clamped.fma(LOG2E, ROUNDER);
            FloatVector n = shifted.sub(ROUNDER);
            FloatVector r = n.fma(ln2High, clamped);
            r = n.fma(ln2Low, r);
            FloatVector z = r.mul(r);
            FloatVector p = r.fma(P0, P1).fma(r, p2).fma(r, p3).fma(r, p4).fma(r, p5).fma(z, r);
            FloatVector scale = shifted.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23).add(SCALE_BIAS)
                    .reinterpretAsFloats();
            FloatVector e = p.fma(scale, scale).blend(0f, underflow);
            e.intoArray(s, at);
            sum = sum.add(e);
        }
        sum.intoArray(sums, 0);
    }

    /** Returns {@code exp(min(x, 0))} with exactly the operations of the vector version. */
    static float exp(float x) {
        if (x < LOWEST) {
            return 0f;
        }
        if (Float.isNaN(x)) {
            return x;
        }
        float clamped = Math.max(Math.min(x, HIGHEST), LOWEST);
        float shifted = Math.fma(clamped, LOG2E, ROUNDER);
        float n = shifted - ROUNDER;
        float r = Math.fma(n, -LN2_HIGH, clamped);
        r = Math.fma(n, -LN2_LOW, r);
        float z = r * r;
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        p = Math.fma(p, z, r);
        // 2^n (1 + p) in one rounding.
        float scale = Float.intBitsToFloat((Float.floatToRawIntBits(shifted) << 23) + SCALE_BIAS);
        return Math.fma(p, scale, scale);
    }
}
