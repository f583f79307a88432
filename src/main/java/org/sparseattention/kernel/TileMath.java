package org.sparseattention.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The matrix products of one query block and head, on plain arrays with the JDK's Vector API.
 *
 * <p>Written by hand because ND4J's per-call cost dominates at tile sizes: a 64 x 64 x 320
 * product through {@code Nd4j.gemm} ran at about 44 GFLOP/s per core here, these loops at about
 * 165 (BENCHMARKS.md). Queries are held transposed ({@code [D][ld]}, {@code ld} a multiple of the
 * vector length) so that every product broadcasts one key or value element against whole vectors
 * of queries, and keys and values are read in place from the input rows. Accumulation order is
 * fixed, so results are the same bits on every run. No method here takes or returns a vector:
 * where C2 declines to inline such a method, the vectors cross the call as heap objects, and a
 * kernel that ran at full speed in one run ran several times slower in the next.
 */
final class TileMath {
    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    static final int LANES = SPECIES.length();

    private TileMath() {
    }

    /** Returns {@code n} rounded up to whole vectors. */
    static int padded(int n) {
        return (n + LANES - 1) / LANES * LANES;
    }

    /**
     * Writes {@code scale * source[rowOffsets[r] + d]} to {@code target[d * ld + r]} for
     * {@code r < rows}, {@code d < depth}, and zeros to the padding columns. {@code rowOffsets}
     * holds {@code ld} entries, all overwritten; {@code staging} holds {@code rows * depth} floats.
     */
    static void transposeScaled(float[] source, int[] rowOffsets, int rows, int depth, float scale,
            float[] target, int ld, float[] staging) {
        // The rows first copied side by side into staging: read in place, rows a power of two apart
        // (the inputs' 2 KB rows) fall into two sets of the first-level cache, and the gathers
        // below, which touch every row for each feature, missed it throughout (the transpose took
        // 6.7 us per block and head in `local`, 4.6-5.4 us staged).
        for (int r = 0; r < rows; r++) {
            System.arraycopy(source, rowOffsets[r], staging, r * depth, depth);
            rowOffsets[r] = r * depth;
        }
        // Whole vectors of columns gathered per feature; padding columns gather row 0, then are zeroed.
        for (int r = rows; r < ld; r++) {
            rowOffsets[r] = 0;
        }
        for (int d = 0; d < depth; d++) {
            for (int r = 0; r < ld; r += LANES) {
                FloatVector.fromArray(SPECIES, staging, d, rowOffsets, r).mul(scale).intoArray(target, d * ld + r);
            }
        }
        for (int d = 0; d < depth; d++) {
            for (int r = rows; r < ld; r++) {
                target[d * ld + r] = 0f;
            }
        }
    }

    /**
     * Computes transposed scores {@code scores[c * ld + r] = sum_d keys[keyOffsets[c] + d] *
     * queries[d * ld + r]} for {@code c < keyCount} and all {@code ld} query columns; or, when
     * {@code groupFrom} is not null, for each group of four keys {@code g = c / 4} at least the
     * query vectors {@code [groupFrom[g], groupTo[g])} (a narrow band is computed with its
     * neighbours), leaving the others as they were.
     */
    static void scores(float[] keys, int[] keyOffsets, int keyCount, float[] queries, int ld, int depth,
            float[] scores, int[] groupFrom, int[] groupTo) {
        int c = 0;
        for (; c + 4 <= keyCount; c += 4) {
            int k0 = keyOffsets[c];
            int k1 = keyOffsets[c + 1];
            int k2 = keyOffsets[c + 2];
            int k3 = keyOffsets[c + 3];
            int r = groupFrom == null ? 0 : groupFrom[c / 4] * LANES;
            int end = groupFrom == null ? ld : groupTo[c / 4] * LANES;
            boolean square = ld == SQUARE && depth == SQUARE && k1 == k0 + SQUARE && k2 == k1 + SQUARE
                    && k3 == k2 + SQUARE;
            for (; r + 4 * LANES <= end; r += 4 * LANES) {
                if (square) {
                    scores4x4Square(keys, k0, queries, r, scores, c * SQUARE + r);
                } else {
                    scores4x4(keys, k0, k1, k2, k3, queries, ld, r, depth, scores, c * ld + r);
                }
            }
            // The rest of a band: a few vectors, computed with neighbours inside the block when that
            // keeps eight or sixteen accumulators (four wait on the multiply-adds' latency).
            if (end - r == 3 * LANES && ld >= 4 * LANES) {
                int at = Math.min(r, ld - 4 * LANES);
                scores4x4(keys, k0, k1, k2, k3, queries, ld, at, depth, scores, c * ld + at);
                r = end;
            }
            for (; r < end && ld >= 2 * LANES; r += 2 * LANES) {
                int at = Math.min(r, ld - 2 * LANES);
                scores4x2(keys, k0, k1, k2, k3, queries, ld, at, depth, scores, c * ld + at);
                r = at;
            }
            for (; r < end; r += LANES) {
                FloatVector a0 = FloatVector.zero(SPECIES);
                FloatVector a1 = a0;
                FloatVector a2 = a0;
                FloatVector a3 = a0;
                for (int d = 0; d < depth; d++) {
                    FloatVector q = FloatVector.fromArray(SPECIES, queries, d * ld + r);
                    a0 = q.fma(FloatVector.broadcast(SPECIES, keys[k0 + d]), a0);
                    a1 = q.fma(FloatVector.broadcast(SPECIES, keys[k1 + d]), a1);
                    a2 = q.fma(FloatVector.broadcast(SPECIES, keys[k2 + d]), a2);
                    a3 = q.fma(FloatVector.broadcast(SPECIES, keys[k3 + d]), a3);
                }
                a0.intoArray(scores, c * ld + r);
                a1.intoArray(scores, (c + 1) * ld + r);
                a2.intoArray(scores, (c + 2) * ld + r);
                a3.intoArray(scores, (c + 3) * ld + r);
            }
        }
        for (; c < keyCount; c++) {
            int k0 = keyOffsets[c];
            int end = groupFrom == null ? ld : groupTo[c / 4] * LANES;
            for (int r = groupFrom == null ? 0 : groupFrom[c / 4] * LANES; r < end; r += LANES) {
                FloatVector a0 = FloatVector.zero(SPECIES);
                for (int d = 0; d < depth; d++) {
                    a0 = FloatVector.fromArray(SPECIES, queries, d * ld + r).fma(FloatVector.broadcast(SPECIES, keys[k0 + d]), a0);
                }
                a0.intoArray(scores, c * ld + r);
            }
        }
    }

    /** Four keys against two vectors of queries: eight accumulators in registers. */
    private static void scores4x2(float[] keys, int k0, int k1, int k2, int k3, float[] queries, int ld, int r,
            int depth, float[] scores, int out) {
        FloatVector a00 = FloatVector.zero(SPECIES);
        FloatVector a01 = a00;
        FloatVector a10 = a00;
        FloatVector a11 = a00;
        FloatVector a20 = a00;
        FloatVector a21 = a00;
        FloatVector a30 = a00;
        FloatVector a31 = a00;
        for (int d = 0; d < depth; d++) {
            int q = d * ld + r;
            FloatVector q0 = FloatVector.fromArray(SPECIES, queries, q);
            FloatVector q1 = FloatVector.fromArray(SPECIES, queries, q + LANES);
            FloatVector bv = FloatVector.broadcast(SPECIES, keys[k0 + d]);
            a00 = q0.fma(bv, a00);
            a01 = q1.fma(bv, a01);
            bv = FloatVector.broadcast(SPECIES, keys[k1 + d]);
            a10 = q0.fma(bv, a10);
            a11 = q1.fma(bv, a11);
            bv = FloatVector.broadcast(SPECIES, keys[k2 + d]);
            a20 = q0.fma(bv, a20);
            a21 = q1.fma(bv, a21);
            bv = FloatVector.broadcast(SPECIES, keys[k3 + d]);
            a30 = q0.fma(bv, a30);
            a31 = q1.fma(bv, a31);
        }
        a00.intoArray(scores, out);
        a01.intoArray(scores, out + LANES);
        a10.intoArray(scores, out + ld);
        a11.intoArray(scores, out + ld + LANES);
        a20.intoArray(scores, out + 2 * ld);
        a21.intoArray(scores, out + 2 * ld + LANES);
        a30.intoArray(scores, out + 3 * ld);
        a31.intoArray(scores, out + 3 * ld + LANES);
    }

    /** Four keys against four vectors of queries: sixteen accumulators in registers. */
    private static void scores4x4(float[] keys, int k0, int k1, int k2, int k3, float[] queries, int ld, int r,
            int depth, float[] scores, int out) {
        FloatVector a00 = FloatVector.zero(SPECIES);
        FloatVector a01 = a00;
        FloatVector a02 = a00;
        FloatVector a03 = a00;
        FloatVector a10 = a00;
        FloatVector a11 = a00;
        FloatVector a12 = a00;
        FloatVector a13 = a00;
        FloatVector a20 = a00;
        FloatVector a21 = a00;
        FloatVector a22 = a00;
        FloatVector a23 = a00;
        FloatVector a30 = a00;
        FloatVector a31 = a00;
        FloatVector a32 = a00;
        FloatVector a33 = a00;
        for (int d = 0; d < depth; d++) {
            int q = d * ld + r;
            FloatVector q0 = FloatVector.fromArray(SPECIES, queries, q);
            FloatVector q1 = FloatVector.fromArray(SPECIES, queries, q + LANES);
            FloatVector q2 = FloatVector.fromArray(SPECIES, queries, q + 2 * LANES);
            FloatVector q3 = FloatVector.fromArray(SPECIES, queries, q + 3 * LANES);
            FloatVector bv = FloatVector.broadcast(SPECIES, keys[k0 + d]);
            a00 = q0.fma(bv, a00);
            a01 = q1.fma(bv, a01);
            a02 = q2.fma(bv, a02);
            a03 = q3.fma(bv, a03);
            bv = FloatVector.broadcast(SPECIES, keys[k1 + d]);
            a10 = q0.fma(bv, a10);
            a11 = q1.fma(bv, a11);
            a12 = q2.fma(bv, a12);
            a13 = q3.fma(bv, a13);
            bv = FloatVector.broadcast(SPECIES, keys[k2 + d]);
            a20 = q0.fma(bv, a20);
            a21 = q1.fma(bv, a21);
            a22 = q2.fma(bv, a22);
            a23 = q3.fma(bv, a23);
            bv = FloatVector.broadcast(SPECIES, keys[k3 + d]);
            a30 = q0.fma(bv, a30);
            a31 = q1.fma(bv, a31);
            a32 = q2.fma(bv, a32);
            a33 = q3.fma(bv, a33);
        }
        a00.intoArray(scores, out);
        a01.intoArray(scores, out + LANES);
        a02.intoArray(scores, out + 2 * LANES);
        a03.intoArray(scores, out + 3 * LANES);
        a10.intoArray(scores, out + ld);
        a11.intoArray(scores, out + ld + LANES);
        a12.intoArray(scores, out + ld + 2 * LANES);
        a13.intoArray(scores, out + ld + 3 * LANES);
        a20.intoArray(scores, out + 2 * ld);
        a21.intoArray(scores, out + 2 * ld + LANES);
        a22.intoArray(scores, out + 2 * ld + 2 * LANES);
        a23.intoArray(scores, out + 2 * ld + 3 * LANES);
        a30.intoArray(scores, out + 3 * ld);
        a31.intoArray(scores, out + 3 * ld + LANES);
        a32.intoArray(scores, out + 3 * ld + 2 * LANES);
        a33.intoArray(scores, out + 3 * ld + 3 * LANES);
    }

    /**
     * {@link #scores4x4} for {@code ld} and {@code depth} both {@link #SQUARE} and four adjacent key
     * rows from {@code k0}, written with the constants (one key offset held instead of four).
     */
    private static void scores4x4Square(float[] keys, int k0, float[] queries, int r, float[] scores, int out) {
        final int ld = SQUARE;
        final int depth = SQUARE;
        FloatVector a00 = FloatVector.zero(SPECIES);
        FloatVector a01 = a00;
        FloatVector a02 = a00;
        FloatVector a03 = a00;
        FloatVector a10 = a00;
        FloatVector a11 = a00;
        FloatVector a12 = a00;
        FloatVector a13 = a00;
        FloatVector a20 = a00;
        FloatVector a21 = a00;
        FloatVector a22 = a00;
        FloatVector a23 = a00;
        FloatVector a30 = a00;
        FloatVector a31 = a00;
        FloatVector a32 = a00;
        FloatVector a33 = a00;
        for (int d = 0; d < depth; d++) {
            int q = d * ld + r;
            FloatVector q0 = FloatVector.fromArray(SPECIES, queries, q);
            FloatVector q1 = FloatVector.fromArray(SPECIES, queries, q + LANES);
            FloatVector q2 = FloatVector.fromArray(SPECIES, queries, q + 2 * LANES);
            FloatVector q3 = FloatVector.fromArray(SPECIES, queries, q + 3 * LANES);
            FloatVector bv = FloatVector.broadcast(SPECIES, keys[k0 + d]);
            a00 = q0.fma(bv, a00);
            a01 = q1.fma(bv, a01);
            a02 = q2.fma(bv, a02);
            a03 = q3.fma(bv, a03);
            bv = FloatVector.broadcast(SPECIES, keys[k0 + SQUARE + d]);
            a10 = q0.fma(bv, a10);
            a11 = q1.fma(bv, a11);
            a12 = q2.fma(bv, a12);
            a13 = q3.fma(bv, a13);
            bv = FloatVector.broadcast(SPECIES, keys[k0 + 2 * SQUARE + d]);
            a20 = q0.fma(bv, a20);
            a21 = q1.fma(bv, a21);
            a22 = q2.fma(bv, a22);
            a23 = q3.fma(bv, a23);
            bv = FloatVector.broadcast(SPECIES, keys[k0 + 3 * SQUARE + d]);
            a30 = q0.fma(bv, a30);
            a31 = q1.fma(bv, a31);
            a32 = q2.fma(bv, a32);
            a33 = q3.fma(bv, a33);
        }
        a00.intoArray(scores, out);
        a01.intoArray(scores, out + LANES);
        a02.intoArray(scores, out + 2 * LANES);
        a03.intoArray(scores, out + 3 * LANES);
        a10.intoArray(scores, out + ld);
        a11.intoArray(scores, out + ld + LANES);
        a12.intoArray(scores, out + ld + 2 * LANES);
        a13.intoArray(scores, out + ld + 3 * LANES);
        a20.intoArray(scores, out + 2 * ld);
        a21.intoArray(scores, out + 2 * ld + LANES);
        a22.intoArray(scores, out + 2 * ld + 2 * LANES);
        a23.intoArray(scores, out + 2 * ld + 3 * LANES);
        a30.intoArray(scores, out + 3 * ld);
        a31.intoArray(scores, out + 3 * ld + LANES);
        a32.intoArray(scores, out + 3 * ld + 2 * LANES);
        a33.intoArray(scores, out + 3 * ld + 3 * LANES);
    }

    /**
     * Computes the transposed output {@code output[d * ld + r] = sum_c values[valueOffsets[c] + d]
     * * weights[c * ld + r]} for {@code d < depth} and all {@code ld} query columns.
     */
    static void output(float[] values, int[] valueOffsets, int keyCount, float[] weights, int ld, int depth,
            float[] output) {
        output(values, valueOffsets, keyCount, weights, ld, depth, output, null, null);
    }

    /**
     * Computes the transposed output like {@link #output(float[], int[], int, float[], int, int,
     * float[])}, given for each vector of query columns {@code v} (unless {@code keyFrom} is null)
     * the keys {@code [keyFrom[v], keyTo[v])} outside which its weights are all 0: those are left
     * out (with finite values, the same bits).
     */
    static void output(float[] values, int[] valueOffsets, int keyCount, float[] weights, int ld, int depth,
            float[] output, int[] keyFrom, int[] keyTo) {
        output(values, valueOffsets, keyCount, weights, ld, depth, output, keyFrom, keyTo, null);
    }

    /**
     * Computes the transposed output like {@link #output(float[], int[], int, float[], int, int,
     * float[], int[], int[])}, with {@code panelRows} (or a new array when it is too small) to copy
     * the value rows of a panel that are not evenly spaced in memory.
     *
     * <p>Keys are added in panels of {@link #KEY_PANEL} from the first, each summed on its own
     * before it is added to the output, so the bits depend on the keys' order only, never on where
     * their rows are: in place, packed or head by head (a panel ending wherever the rows' spacing
     * changed gave `fixed` with blocks of 56 rows different bits in the job and in this process).
     */
    static void output(float[] values, int[] valueOffsets, int keyCount, float[] weights, int ld, int depth,
            float[] output, int[] keyFrom, int[] keyTo, float[] panelRows) {
        java.util.Arrays.fill(output, 0, depth * ld, 0f);
        for (int from = 0; from < keyCount; from += KEY_PANEL) {
            int to = Math.min(keyCount, from + KEY_PANEL);
            // The panel's reads are linear in the key when its rows are evenly spaced (a key block's
            // rows, in place or packed), and C2 then checks their bounds once per panel instead of
            // once per key (the product ran about 9 % faster); other panels are copied so first.
            int stride = to - from > 1 ? valueOffsets[from + 1] - valueOffsets[from] : depth;
            int c = from + 2;
            while (c < to && valueOffsets[c] - valueOffsets[c - 1] == stride) {
                c++;
            }
            float[] rows = values;
            int base = valueOffsets[from];
            if (c < to) {
                rows = panelRows != null && panelRows.length >= KEY_PANEL * depth ? panelRows
                        : new float[KEY_PANEL * depth];
                for (int k = from; k < to; k++) {
                    System.arraycopy(values, valueOffsets[k], rows, (k - from) * depth, depth);
                }
                base = 0;
                stride = depth;
            }
            if (keyFrom != null && depth % 8 == 0 && !coversAll(keyFrom, keyTo, ld / LANES, from, to)) {
                outputBandPanel(rows, base, stride, from, to, weights, ld, depth, output, keyFrom, keyTo);
            } else {
                outputPanel(rows, base, stride, from, to, weights, ld, depth, output);
            }
        }
    }

    /** Floats {@link #output} needs in {@code panelRows} for rows of {@code depth} features. */
    static int panelRowsLength(int depth) {
        return KEY_PANEL * depth;
    }

    /**
     * Computes the transposed output like {@link #output}, key by key, leaving out keys of weight 0:
     * for inputs with NaN or infinite values, where {@code 0 * inf} would spread NaN from keys a
     * row may not attend. Slow; used only when {@link #output} gave a non-finite value.
     */
    static void outputSkippingZeroWeights(float[] values, int[] valueOffsets, int keyCount, float[] weights, int ld,
            int depth, float[] output) {
        java.util.Arrays.fill(output, 0, depth * ld, 0f);
        for (int c = 0; c < keyCount; c++) {
            int v = valueOffsets[c];
            for (int r = 0; r < ld; r++) {
                float weight = weights[c * ld + r];
                if (weight != 0f) {
                    for (int d = 0; d < depth; d++) {
                        output[d * ld + r] += weight * values[v + d];
                    }
                }
            }
        }
    }

    /**
     * Recomputes column {@code r} of a transposed output key by key with each weight times
     * {@code inverse} (the softmax's division first), leaving out keys of weight 0: for a column
     * whose weighted sum of finite values passed float32's range where their weighted mean, the
     * output, does not.
     */
    static void outputColumnNormalised(float[] values, int[] valueOffsets, int keyCount, float[] weights, int ld,
            int depth, float[] output, int r, float inverse) {
        for (int d = 0; d < depth; d++) {
            output[d * ld + r] = 0f;
        }
        for (int c = 0; c < keyCount; c++) {
            float weight = weights[c * ld + r];
            if (weight != 0f) {
                float p = weight * inverse;
                int v = valueOffsets[c];
                for (int d = 0; d < depth; d++) {
                    output[d * ld + r] += p * values[v + d];
                }
            }
        }
    }

    /** Returns whether column {@code r} of a transposed output is finite. */
    static boolean columnFinite(float[] output, int ld, int depth, int r) {
        for (int d = 0; d < depth; d++) {
            if (!Float.isFinite(output[d * ld + r])) {
                return false;
            }
        }
        return true;
    }

    /**
     * Returns whether {@code values[from, from + length)} are all finite: {@code x - x} is 0 for a
     * finite {@code x} and NaN otherwise, so one vector pass of subtractions and additions tells.
     * (The reader of input files has its own, {@code NpyFile.firstNonFinite}: the kernel does not
     * depend on the file layer.)
     */
    static boolean allFinite(float[] values, int from, int length) {
        FloatVector any = FloatVector.zero(SPECIES);
        int i = from;
        for (int bound = from + SPECIES.loopBound(length); i < bound; i += LANES) {
            FloatVector x = FloatVector.fromArray(SPECIES, values, i);
            any = any.add(x.sub(x));
        }
        float tail = 0;
        for (; i < from + length; i++) {
            tail += values[i] - values[i];
        }
        return any.reduceLanes(jdk.incubator.vector.VectorOperators.ADD) + tail == 0;
    }

    /** Returns whether any of the first {@code columns} columns of a transposed output is NaN or infinite. */
    static boolean hasNonFinite(float[] output, int ld, int depth, int columns) {
        // One pass over all columns (padding included) clears the common case; only a hit is
        // checked column by column.
        if (allFinite(output, 0, depth * ld)) {
            return false;
        }
        for (int d = 0; d < depth; d++) {
            for (int r = 0; r < columns; r++) {
                if (!Float.isFinite(output[d * ld + r])) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Query columns and value-row stride of the common shape, blocks of 64 rows and heads of 64
     * features with rows packed or held head by head: {@link #output4x4Square} has them as
     * constants (`all`'s and `fixed`'s output product 15-20 % faster), and so has
     * {@link #scores4x4Square}.
     */
    private static final int SQUARE = 64;

    /** Keys per pass of {@link #output}: their weights and value rows stay in the first-level cache. */
    private static final int KEY_PANEL = 64;

    /**
     * Adds keys {@code [from, to)} of a panel to output features {@code [d, d + 4)} of the vector of
     * query columns at {@code r}, key by key onto the output.
     */
    private static void outputVector(float[] values, int base, int stride, int from, int to, int d,
            float[] weights, int ld, int r, float[] output) {
        FloatVector a0 = FloatVector.fromArray(SPECIES, output, d * ld + r);
        FloatVector a1 = FloatVector.fromArray(SPECIES, output, (d + 1) * ld + r);
        FloatVector a2 = FloatVector.fromArray(SPECIES, output, (d + 2) * ld + r);
        FloatVector a3 = FloatVector.fromArray(SPECIES, output, (d + 3) * ld + r);
        for (int c = from; c < to; c++) {
            FloatVector p = FloatVector.fromArray(SPECIES, weights, c * ld + r);
            int v = base + (c - from) * stride + d;
            a0 = p.fma(FloatVector.broadcast(SPECIES, values[v]), a0);
            a1 = p.fma(FloatVector.broadcast(SPECIES, values[v + 1]), a1);
            a2 = p.fma(FloatVector.broadcast(SPECIES, values[v + 2]), a2);
            a3 = p.fma(FloatVector.broadcast(SPECIES, values[v + 3]), a3);
        }
        a0.intoArray(output, d * ld + r);
        a1.intoArray(output, (d + 1) * ld + r);
        a2.intoArray(output, (d + 2) * ld + r);
        a3.intoArray(output, (d + 3) * ld + r);
    }

    /** Returns whether each of {@code vectors} vectors of query columns may have weight at every key of {@code [from, to)}. */
    private static boolean coversAll(int[] keyFrom, int[] keyTo, int vectors, int from, int to) {
        for (int v = 0; v < vectors; v++) {
            if (keyFrom[v] > from || keyTo[v] < to) {
                return false;
            }
        }
        return true;
    }

    /**
     * Adds keys {@code [from, to)} like {@link #outputPanel}, with the same bits: the vectors of its
     * 4 x 4 blocks in pairs, each pair over only the keys where either may have weight (in `local`'s
     * first and last tiles, a quarter fewer), summed from zero and then added to the output as those
     * blocks are; the other vectors over all keys, key by key onto the output as there (skipping a
     * key of weight 0 there could leave a -0 where adding it gives +0). {@code depth} a multiple of 8.
     */
    private static void outputBandPanel(float[] values, int base, int stride, int from, int to, float[] weights,
            int ld, int depth, float[] output, int[] keyFrom, int[] keyTo) {
        int vectors = ld / LANES;
        int paired = vectors / 4 * 4;
        for (int v = 0; v < paired; v += 2) {
            int first = Math.max(from, Math.min(keyFrom[v], keyFrom[v + 1]));
            int end = Math.min(to, Math.max(keyTo[v], keyTo[v + 1]));
            for (int d = 0; first < end && d < depth; d += 8) {
                output8x2(values, base + (first - from) * stride, stride, first, end, d, weights, ld, v * LANES,
                        output);
            }
        }
        for (int v = paired; v < vectors; v++) {
            for (int d = 0; d < depth; d += 4) {
                outputVector(values, base, stride, from, to, d, weights, ld, v * LANES, output);
            }
        }
    }

    /**
     * Eight output features against two vectors of queries over keys {@code [from, to)}, whose value
     * rows start at {@code base + (c - from) * stride}: sixteen accumulators, added to the output.
     */
    private static void output8x2(float[] values, int base, int stride, int from, int to, int d, float[] weights,
            int ld, int r, float[] output) {
        FloatVector a00 = FloatVector.zero(SPECIES);
        FloatVector a01 = a00;
        FloatVector a10 = a00;
        FloatVector a11 = a00;
        FloatVector a20 = a00;
        FloatVector a21 = a00;
        FloatVector a30 = a00;
        FloatVector a31 = a00;
        FloatVector a40 = a00;
        FloatVector a41 = a00;
        FloatVector a50 = a00;
        FloatVector a51 = a00;
        FloatVector a60 = a00;
        FloatVector a61 = a00;
        FloatVector a70 = a00;
        FloatVector a71 = a00;
        for (int c = from; c < to; c++) {
            int p = c * ld + r;
            FloatVector p0 = FloatVector.fromArray(SPECIES, weights, p);
            FloatVector p1 = FloatVector.fromArray(SPECIES, weights, p + LANES);
            int v = base + (c - from) * stride + d;
            FloatVector bv = FloatVector.broadcast(SPECIES, values[v]);
            a00 = p0.fma(bv, a00);
            a01 = p1.fma(bv, a01);
            bv = FloatVector.broadcast(SPECIES, values[v + 1]);
            a10 = p0.fma(bv, a10);
            a11 = p1.fma(bv, a11);
            bv = FloatVector.broadcast(SPECIES, values[v + 2]);
            a20 = p0.fma(bv, a20);
            a21 = p1.fma(bv, a21);
            bv = FloatVector.broadcast(SPECIES, values[v + 3]);
            a30 = p0.fma(bv, a30);
            a31 = p1.fma(bv, a31);
            bv = FloatVector.broadcast(SPECIES, values[v + 4]);
            a40 = p0.fma(bv, a40);
            a41 = p1.fma(bv, a41);
            bv = FloatVector.broadcast(SPECIES, values[v + 5]);
            a50 = p0.fma(bv, a50);
            a51 = p1.fma(bv, a51);
            bv = FloatVector.broadcast(SPECIES, values[v + 6]);
            a60 = p0.fma(bv, a60);
            a61 = p1.fma(bv, a61);
            bv = FloatVector.broadcast(SPECIES, values[v + 7]);
            a70 = p0.fma(bv, a70);
            a71 = p1.fma(bv, a71);
        }
        int out = d * ld + r;
        a00.add(FloatVector.fromArray(SPECIES, output, out)).intoArray(output, out);
        a01.add(FloatVector.fromArray(SPECIES, output, out + LANES)).intoArray(output, out + LANES);
        a10.add(FloatVector.fromArray(SPECIES, output, out + ld)).intoArray(output, out + ld);
        a11.add(FloatVector.fromArray(SPECIES, output, out + ld + LANES)).intoArray(output, out + ld + LANES);
        a20.add(FloatVector.fromArray(SPECIES, output, out + 2 * ld)).intoArray(output, out + 2 * ld);
        a21.add(FloatVector.fromArray(SPECIES, output, out + 2 * ld + LANES)).intoArray(output, out + 2 * ld + LANES);
        a30.add(FloatVector.fromArray(SPECIES, output, out + 3 * ld)).intoArray(output, out + 3 * ld);
        a31.add(FloatVector.fromArray(SPECIES, output, out + 3 * ld + LANES)).intoArray(output, out + 3 * ld + LANES);
        a40.add(FloatVector.fromArray(SPECIES, output, out + 4 * ld)).intoArray(output, out + 4 * ld);
        a41.add(FloatVector.fromArray(SPECIES, output, out + 4 * ld + LANES)).intoArray(output, out + 4 * ld + LANES);
        a50.add(FloatVector.fromArray(SPECIES, output, out + 5 * ld)).intoArray(output, out + 5 * ld);
        a51.add(FloatVector.fromArray(SPECIES, output, out + 5 * ld + LANES)).intoArray(output, out + 5 * ld + LANES);
        a60.add(FloatVector.fromArray(SPECIES, output, out + 6 * ld)).intoArray(output, out + 6 * ld);
        a61.add(FloatVector.fromArray(SPECIES, output, out + 6 * ld + LANES)).intoArray(output, out + 6 * ld + LANES);
        a70.add(FloatVector.fromArray(SPECIES, output, out + 7 * ld)).intoArray(output, out + 7 * ld);
        a71.add(FloatVector.fromArray(SPECIES, output, out + 7 * ld + LANES)).intoArray(output, out + 7 * ld + LANES);
    }

    /**
     * Adds keys {@code [from, to)}, whose value rows start at {@code base + (c - from) * stride}, to
     * the transposed output.
     */
    private static void outputPanel(float[] values, int base, int stride, int from, int to, float[] weights, int ld,
            int depth, float[] output) {
        boolean square = ld == SQUARE && stride == SQUARE;
        int d = 0;
        for (; d + 4 <= depth; d += 4) {
            int r = 0;
            for (; r + 4 * LANES <= ld; r += 4 * LANES) {
                if (square) {
                    output4x4Square(values, base, from, to, d, weights, r, output);
                } else {
                    output4x4(values, base, stride, from, to, d, weights, ld, r, output);
                }
            }
            for (; r < ld; r += LANES) {
                outputVector(values, base, stride, from, to, d, weights, ld, r, output);
            }
        }
        for (; d < depth; d++) {
            for (int r = 0; r < ld; r += LANES) {
                FloatVector a0 = FloatVector.fromArray(SPECIES, output, d * ld + r);
                for (int c = from; c < to; c++) {
                    a0 = FloatVector.fromArray(SPECIES, weights, c * ld + r)
                            .fma(FloatVector.broadcast(SPECIES, values[base + (c - from) * stride + d]), a0);
                }
                a0.intoArray(output, d * ld + r);
            }
        }
    }

    /**
     * Four output features against four vectors of queries: sixteen accumulators from zero over the
     * panel's keys, then added to the output (starting them from the output ran about 10 % slower).
     */
    private static void output4x4(float[] values, int base, int stride, int from, int to, int d, float[] weights,
            int ld, int r, float[] output) {
        int out = d * ld + r;
        FloatVector a00 = FloatVector.zero(SPECIES);
        FloatVector a01 = a00;
        FloatVector a02 = a00;
        FloatVector a03 = a00;
        FloatVector a10 = a00;
        FloatVector a11 = a00;
        FloatVector a12 = a00;
        FloatVector a13 = a00;
        FloatVector a20 = a00;
        FloatVector a21 = a00;
        FloatVector a22 = a00;
        FloatVector a23 = a00;
        FloatVector a30 = a00;
        FloatVector a31 = a00;
        FloatVector a32 = a00;
        FloatVector a33 = a00;
        for (int c = from; c < to; c++) {
            int p = c * ld + r;
            FloatVector p0 = FloatVector.fromArray(SPECIES, weights, p);
            FloatVector p1 = FloatVector.fromArray(SPECIES, weights, p + LANES);
            FloatVector p2 = FloatVector.fromArray(SPECIES, weights, p + 2 * LANES);
            FloatVector p3 = FloatVector.fromArray(SPECIES, weights, p + 3 * LANES);
            int v = base + (c - from) * stride + d;
            FloatVector bv = FloatVector.broadcast(SPECIES, values[v]);
            a00 = p0.fma(bv, a00);
            a01 = p1.fma(bv, a01);
            a02 = p2.fma(bv, a02);
            a03 = p3.fma(bv, a03);
            bv = FloatVector.broadcast(SPECIES, values[v + 1]);
            a10 = p0.fma(bv, a10);
            a11 = p1.fma(bv, a11);
            a12 = p2.fma(bv, a12);
            a13 = p3.fma(bv, a13);
            bv = FloatVector.broadcast(SPECIES, values[v + 2]);
            a20 = p0.fma(bv, a20);
            a21 = p1.fma(bv, a21);
            a22 = p2.fma(bv, a22);
            a23 = p3.fma(bv, a23);
            bv = FloatVector.broadcast(SPECIES, values[v + 3]);
            a30 = p0.fma(bv, a30);
            a31 = p1.fma(bv, a31);
            a32 = p2.fma(bv, a32);
            a33 = p3.fma(bv, a33);
        }
        a00.add(FloatVector.fromArray(SPECIES, output, out)).intoArray(output, out);
        a01.add(FloatVector.fromArray(SPECIES, output, out + LANES)).intoArray(output, out + LANES);
        a02.add(FloatVector.fromArray(SPECIES, output, out + 2 * LANES)).intoArray(output, out + 2 * LANES);
        a03.add(FloatVector.fromArray(SPECIES, output, out + 3 * LANES)).intoArray(output, out + 3 * LANES);
        a10.add(FloatVector.fromArray(SPECIES, output, out + ld)).intoArray(output, out + ld);
        a11.add(FloatVector.fromArray(SPECIES, output, out + ld + LANES)).intoArray(output, out + ld + LANES);
        a12.add(FloatVector.fromArray(SPECIES, output, out + ld + 2 * LANES)).intoArray(output, out + ld + 2 * LANES);
        a13.add(FloatVector.fromArray(SPECIES, output, out + ld + 3 * LANES)).intoArray(output, out + ld + 3 * LANES);
        a20.add(FloatVector.fromArray(SPECIES, output, out + 2 * ld)).intoArray(output, out + 2 * ld);
        a21.add(FloatVector.fromArray(SPECIES, output, out + 2 * ld + LANES)).intoArray(output, out + 2 * ld + LANES);
        a22.add(FloatVector.fromArray(SPECIES, output, out + 2 * ld + 2 * LANES))
                .intoArray(output, out + 2 * ld + 2 * LANES);
        a23.add(FloatVector.fromArray(SPECIES, output, out + 2 * ld + 3 * LANES))
                .intoArray(output, out + 2 * ld + 3 * LANES);
        a30.add(FloatVector.fromArray(SPECIES, output, out + 3 * ld)).intoArray(output, out + 3 * ld);
        a31.add(FloatVector.fromArray(SPECIES, output, out + 3 * ld + LANES)).intoArray(output, out + 3 * ld + LANES);
        a32.add(FloatVector.fromArray(SPECIES, output, out + 3 * ld + 2 * LANES))
                .intoArray(output, out + 3 * ld + 2 * LANES);
        a33.add(FloatVector.fromArray(SPECIES, output, out + 3 * ld + 3 * LANES))
                .intoArray(output, out + 3 * ld + 3 * LANES);
    }

    /**
     * {@link #output4x4} for {@code ld} and {@code stride} both {@link #SQUARE}, written with the
     * constant: C2 then proves the loop's loads in bounds once per panel rather than checking
     * them per key, which it does not for a stride held in a variable.
     */
    private static void output4x4Square(float[] values, int base, int from, int to, int d, float[] weights, int r,
            float[] output) {
        final int ld = SQUARE;
        int out = d * ld + r;
        FloatVector a00 = FloatVector.zero(SPECIES);
        FloatVector a01 = a00;
        FloatVector a02 = a00;
        FloatVector a03 = a00;
        FloatVector a10 = a00;
        FloatVector a11 = a00;
        FloatVector a12 = a00;
        FloatVector a13 = a00;
        FloatVector a20 = a00;
        FloatVector a21 = a00;
        FloatVector a22 = a00;
        FloatVector a23 = a00;
        FloatVector a30 = a00;
        FloatVector a31 = a00;
        FloatVector a32 = a00;
        FloatVector a33 = a00;
        for (int c = from; c < to; c++) {
            int p = c * ld + r;
            FloatVector p0 = FloatVector.fromArray(SPECIES, weights, p);
            FloatVector p1 = FloatVector.fromArray(SPECIES, weights, p + LANES);
            FloatVector p2 = FloatVector.fromArray(SPECIES, weights, p + 2 * LANES);
            FloatVector p3 = FloatVector.fromArray(SPECIES, weights, p + 3 * LANES);
            int v = base + (c - from) * SQUARE + d;
            FloatVector bv = FloatVector.broadcast(SPECIES, values[v]);
            a00 = p0.fma(bv, a00);
            a01 = p1.fma(bv, a01);
            a02 = p2.fma(bv, a02);
            a03 = p3.fma(bv, a03);
            bv = FloatVector.broadcast(SPECIES, values[v + 1]);
            a10 = p0.fma(bv, a10);
            a11 = p1.fma(bv, a11);
            a12 = p2.fma(bv, a12);
            a13 = p3.fma(bv, a13);
            bv = FloatVector.broadcast(SPECIES, values[v + 2]);
            a20 = p0.fma(bv, a20);
            a21 = p1.fma(bv, a21);
            a22 = p2.fma(bv, a22);
            a23 = p3.fma(bv, a23);
            bv = FloatVector.broadcast(SPECIES, values[v + 3]);
            a30 = p0.fma(bv, a30);
            a31 = p1.fma(bv, a31);
            a32 = p2.fma(bv, a32);
            a33 = p3.fma(bv, a33);
        }
        a00.add(FloatVector.fromArray(SPECIES, output, out)).intoArray(output, out);
        a01.add(FloatVector.fromArray(SPECIES, output, out + LANES)).intoArray(output, out + LANES);
        a02.add(FloatVector.fromArray(SPECIES, output, out + 2 * LANES)).intoArray(output, out + 2 * LANES);
        a03.add(FloatVector.fromArray(SPECIES, output, out + 3 * LANES)).intoArray(output, out + 3 * LANES);
        a10.add(FloatVector.fromArray(SPECIES, output, out + ld)).intoArray(output, out + ld);
        a11.add(FloatVector.fromArray(SPECIES, output, out + ld + LANES)).intoArray(output, out + ld + LANES);
        a12.add(FloatVector.fromArray(SPECIES, output, out + ld + 2 * LANES)).intoArray(output, out + ld + 2 * LANES);
        a13.add(FloatVector.fromArray(SPECIES, output, out + ld + 3 * LANES)).intoArray(output, out + ld + 3 * LANES);
        a20.add(FloatVector.fromArray(SPECIES, output, out + 2 * ld)).intoArray(output, out + 2 * ld);
        a21.add(FloatVector.fromArray(SPECIES, output, out + 2 * ld + LANES)).intoArray(output, out + 2 * ld + LANES);
        a22.add(FloatVector.fromArray(SPECIES, output, out + 2 * ld + 2 * LANES))
                .intoArray(output, out + 2 * ld + 2 * LANES);
        a23.add(FloatVector.fromArray(SPECIES, output, out + 2 * ld + 3 * LANES))
                .intoArray(output, out + 2 * ld + 3 * LANES);
        a30.add(FloatVector.fromArray(SPECIES, output, out + 3 * ld)).intoArray(output, out + 3 * ld);
        a31.add(FloatVector.fromArray(SPECIES, output, out + 3 * ld + LANES)).intoArray(output, out + 3 * ld + LANES);
        a32.add(FloatVector.fromArray(SPECIES, output, out + 3 * ld + 2 * LANES))
                .intoArray(output, out + 3 * ld + 2 * LANES);
        a33.add(FloatVector.fromArray(SPECIES, output, out + 3 * ld + 3 * LANES))
                .intoArray(output, out + 3 * ld + 3 * LANES);
    }
}
