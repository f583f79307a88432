package org.sparseattention.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.sparseattention.TestArrays.normal;

import org.junit.jupiter.api.Test;

class AccumulatorTest {

    /** A row with two keys, split into two one-key shares, merges to the softmax over both. */
    @Test
    void mergingTwoSharesEqualsTheSoftmaxOverAllKeys() {
        float s0 = 0.3f;
        float s1 = -1.2f;
        float[] v0 = {1f, 2f};
        float[] v1 = {-3f, 0.5f};
        Accumulator acc = new Accumulator(1, 1, 2);
        acc.merge(new Partial(new int[] {0}, 1, 2, v0.clone(), new float[] {s0}));
        acc.merge(new Partial(new int[] {0}, 1, 2, v1.clone(), new float[] {s1}));
        double lse = Math.log(Math.exp(s0) + Math.exp(s1));
        double p0 = Math.exp(s0 - lse);
        double p1 = Math.exp(s1 - lse);
        assertEquals(lse, acc.logSumExp()[0], 1e-6);
        assertEquals(p0 * v0[0] + p1 * v1[0], acc.output()[0], 1e-6);
        assertEquals(p0 * v0[1] + p1 * v1[1], acc.output()[1], 1e-6);
    }

    @Test
    void emptySharesChangeNothingAndAnEmptyRowStaysZero() {
        Accumulator acc = new Accumulator(2, 1, 3);
        float[] first = normal(7, 3);
        acc.merge(new Partial(new int[] {1}, 1, 3, first.clone(), new float[] {0.25f}));
        acc.merge(new Partial(new int[] {1}, 1, 3, new float[3], new float[] {Float.NEGATIVE_INFINITY}));
        acc.merge(new Partial(new int[] {0}, 1, 3, new float[3], new float[] {Float.NEGATIVE_INFINITY}));
        assertArrayEquals(new float[] {0, 0, 0, first[0], first[1], first[2]}, acc.output());
        assertArrayEquals(new float[] {Float.NEGATIVE_INFINITY, 0.25f}, acc.logSumExp());
    }

    /** Over an output that holds other values: merged rows replace them, and zeroEmpty clears the rest. */
    @Test
    void mergedRowsReplaceWhatTheOutputHeldAndEmptyRowsAreZeroed() {
        float[] output = new float[2 + 3 * 2 * 2];
        java.util.Arrays.fill(output, Float.NaN);
        Accumulator acc = new Accumulator(output, 2, 3, 2, 2);
        float[] share = normal(8, 4);
        // Row 1: head 0 gets a share, head 1 an empty one; rows 0 and 2 get nothing.
        acc.merge(new Partial(new int[] {1}, 2, 2, share.clone(), new float[] {0.5f, Float.NEGATIVE_INFINITY}));
        acc.zeroEmpty();
        assertArrayEquals(new float[] {Float.NaN, Float.NaN, 0, 0, 0, 0, share[0], share[1], 0, 0, 0, 0, 0, 0},
                output);
    }
}
