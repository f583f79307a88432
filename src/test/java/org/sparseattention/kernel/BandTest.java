package org.sparseattention.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.sparseattention.TestArrays.normal;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

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
        // ld of one to five vectors: whole 4 x 4 blocks, the 4 x 2 rest and the clamped 4 x 2 at the end.
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
            assertEquals(true, computed > 0, "no score inside the bands");
        }
    }

    @Test
    void softmaxAndOutputGiveTheSameBitsWithKeyRanges() {
        Random random = new Random(5);
        for (int vectors : new int[] {2, 4, 6}) {
            int ld = vectors * LANES;
            int keyCount = 150;
            int depth = 16;
            // Scores -inf outside each query vector's key range, as the mask leaves them.
            int[] keyFrom = new int[vectors];
            int[] keyTo = new int[vectors];
            float[] s = normal(7, keyCount * ld);
            for (int v = 0; v < vectors; v++) {
                int a = random.nextInt(keyCount + 1);
                int b = random.nextInt(keyCount + 1);
                keyFrom[v] = v == 1 ? 0 : Math.min(a, b);
                keyTo[v] = v == 1 ? 0 : Math.max(a, b);   // vector 1: no key at all
                for (int c = 0; c < keyCount; c++) {
                    for (int r = v * LANES; r < (v + 1) * LANES; r++) {
                        if (c < keyFrom[v] || c >= keyTo[v] || random.nextInt(10) == 0) {
                            s[c * ld + r] = Float.NEGATIVE_INFINITY;
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
            for (int c = 0; c < keyCount; c++) {
                valueOffsets[c] = c < 128 ? c * depth : 128 * depth + (c - 128) * 40;
            }
            float[] wholeOut = new float[depth * ld];
            TileMath.output(values, valueOffsets, keyCount, whole, ld, depth, wholeOut);
            float[] rangedOut = new float[depth * ld];
            TileMath.output(values, valueOffsets, keyCount, ranged, ld, depth, rangedOut, keyFrom, keyTo);
            assertArrayEquals(wholeOut, rangedOut, vectors + " vectors: output");
        }
    }
}
