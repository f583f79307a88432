package org.sparseattention.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sparseattention.TestArrays.normal;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.Patterns;

/**
 * The products and the softmax restricted to bands give the bits of the whole computation where
 * it matters: scores inside the bands, and every softmax weight and output value when the scores
 * outside are {@code -inf}.
 */
class BandTest {
    private static final int LANES = TileMath.LANES;

    /** Random bands: per group of four keys a range of query vectors, some empty, some whole. */
    private static int[][] groupBands(Random random, int groups, int vectors) {
        int[] from = new int[groups];
        int[] to = new int[groups];
        for (int g = 0; g < groups; g++) {
            int a = random.nextInt(vectors + 1);
            int b = random.nextInt(vectors + 1);
            from[g] = Math.min(a, b);
            to[g] = g % 5 == 0 ? vectors : Math.max(a, b);
        }
        return new int[][] {from, to};
    }

    @Test
    void scoresInsideTheBandsAreTheWholeProductsBits() {
        Random random = new Random(3);
        // ld of one to five vectors: whole 4 x 4 blocks, a band of three as a 4 x 4 block shifted back,
        // the 4 x 2 rest and the 4 x 2 shifted back at the end.
        for (int vectors = 1; vectors <= 5; vectors++) {
            int ld = vectors * LANES;
            int depth = 24;
            int keyCount = 42;
            float[] keys = normal(1, keyCount * depth + 7);
            float[] queries = normal(2, depth * ld);
            int[] keyOffsets = new int[keyCount];
            for (int c = 0; c < keyCount; c++) {
                keyOffsets[c] = (c * 5) % keyCount * depth + 7;
            }
            float[] whole = new float[keyCount * ld];
            TileMath.scores(keys, keyOffsets, keyCount, queries, ld, depth, whole, null, null);
            int[][] bands = groupBands(random, (keyCount + 3) / 4, vectors);
            float[] banded = new float[keyCount * ld];
            Arrays.fill(banded, Float.NaN);
            TileMath.scores(keys, keyOffsets, keyCount, queries, ld, depth, banded, bands[0], bands[1]);
            int computed = 0;
            for (int c = 0; c < keyCount; c++) {
                for (int v = bands[0][c / 4]; v < bands[1][c / 4]; v++) {
                    for (int r = v * LANES; r < (v + 1) * LANES; r++) {
                        assertEquals(Float.floatToIntBits(whole[c * ld + r]), Float.floatToIntBits(banded[c * ld + r]),
                                vectors + " vectors: key " + c + ", query " + r);
                        computed++;
                    }
                }
            }
            assertTrue(computed > 0, "no score inside the bands");
        }
    }

    @Test
    void softmaxAndOutputGiveTheSameBitsWithKeyRanges() {
        Random random = new Random(5);
        // Maxima four vectors at a time (4, 6, 8 vectors) and one at a time (2, 6); a vector with no
        // key at all outside a group of four (6) and inside one (8).
        int[][] cases = {{2, -1}, {4, -1}, {6, 5}, {8, 1}};
        for (int[] c : cases) {
            int vectors = c[0];
            int ld = vectors * LANES;
            int keyCount = 150;
            int depth = 16;
            // Scores -inf outside each query vector's key range, as the mask leaves them.
            int[] keyFrom = new int[vectors];
            int[] keyTo = new int[vectors];
            float[] s = normal(7, keyCount * ld);
            for (int v = 0; v < vectors; v++) {
                int a = 1 + random.nextInt(keyCount);
                int b = 1 + random.nextInt(keyCount);
                keyFrom[v] = v == c[1] ? 0 : Math.min(a, b) - 1;
                keyTo[v] = v == c[1] ? 0 : Math.max(a, b);
                for (int k = 0; k < keyCount; k++) {
                    for (int r = v * LANES; r < (v + 1) * LANES; r++) {
                        if (k < keyFrom[v] || k >= keyTo[v] || random.nextInt(10) == 0) {
                            s[k * ld + r] = Float.NEGATIVE_INFINITY;
                        }
                    }
                }
            }
            float[] whole = s.clone();
            float[] wholeLse = new float[ld];
            float[] wholeInverse = new float[ld];
            Softmax.columns(whole, keyCount, ld, wholeLse, wholeInverse);
            float[] ranged = s.clone();
            float[] rangedLse = new float[ld];
            float[] rangedInverse = new float[ld];
            Softmax.columns(ranged, keyCount, ld, rangedLse, rangedInverse, keyFrom, keyTo);
            assertArrayEquals(whole, ranged, vectors + " vectors: weights");
            assertArrayEquals(wholeLse, rangedLse, vectors + " vectors: log-sum-exp");
            assertArrayEquals(wholeInverse, rangedInverse, vectors + " vectors: inverse sums");

            // Values in panels of 64 keys at the packed stride, then a panel read in place at another stride.
            float[] values = normal(11, keyCount * 40);
            int[] valueOffsets = new int[keyCount];
            for (int k = 0; k < keyCount; k++) {
                valueOffsets[k] = k < 128 ? k * depth : 128 * depth + (k - 128) * 40;
            }
            float[] wholeOut = new float[depth * ld];
            TileMath.output(values, valueOffsets, keyCount, whole, ld, depth, wholeOut);
            float[] rangedOut = new float[depth * ld];
            TileMath.output(values, valueOffsets, keyCount, ranged, ld, depth, rangedOut, keyFrom, keyTo);
            assertArrayEquals(wholeOut, rangedOut, vectors + " vectors: output");
        }
    }

    /**
     * The kernel with its bands gives the bits of the whole computation, on patterns whose partial
     * tiles have interval masks, blocks of one to four vectors and groups of keys across tiles.
     */
    @ParameterizedTest(name = "{0} L={1} bs={2} H={3} D={4} l={5}")
    @CsvSource({"local, 1000, 64, 2, 64, 100", "local, 700, 48, 1, 16, 70", "strided, 1000, 32, 2, 8, 40",
        "local+strided, 777, 64, 2, 24, 96", "all, 300, 50, 1, 8, 0", "local, 130, 16, 3, 8, 9"})
    void kernelWithBandsGivesTheBitsOfTheWholeComputation(String mode, int seqLen, int blockSize, int heads,
            int headDim, int context) {
        int rowLength = heads * headDim;
        Rows q = Rows.dense(normal(31, seqLen * rowLength), 0, rowLength);
        Rows k = Rows.dense(normal(32, seqLen * rowLength), 0, rowLength);
        Rows v = Rows.dense(normal(33, seqLen * rowLength), 0, rowLength);
        BlockLayout layout = BlockLayout.of(Patterns.parse(mode, context, blockSize, 1, 1), seqLen, blockSize, heads);
        BlockSparseKernel banded = new BlockSparseKernel(layout, headDim, 0.4f);
        BlockSparseKernel whole = new BlockSparseKernel(layout, headDim, 0.4f);
        whole.withoutBands();
        for (int f = 0; f < layout.frameCount(); f++) {
            int blocks = layout.grid(f).numBlocks();
            // Calls of 1 block (rows read in place) and of 8 (packed).
            for (int size : new int[] {1, 8}) {
                for (int from = 0; from < blocks; from += size) {
                    int to = Math.min(blocks, from + size);
                    Partial a = banded.compute(q, k, v, f, from, to, 0, Integer.MAX_VALUE);
                    float[] output = Arrays.copyOf(a.output(), a.rows() * rowLength);
                    float[] lse = Arrays.copyOf(a.logSumExp(), a.rows() * heads);
                    Partial b = whole.compute(q, k, v, f, from, to, 0, Integer.MAX_VALUE);
                    String where = mode + ": frame " + f + ", blocks " + from + "-" + to;
                    assertArrayEquals(Arrays.copyOf(b.output(), b.rows() * rowLength), output, where);
                    assertArrayEquals(Arrays.copyOf(b.logSumExp(), b.rows() * heads), lse, where);
                }
            }
        }
        assertEquals(whole.allowedPairs(), banded.allowedPairs(), "allowed pairs");
    }
}
