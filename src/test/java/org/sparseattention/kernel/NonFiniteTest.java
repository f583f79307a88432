package org.sparseattention.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sparseattention.TestArrays.normal;

import org.junit.jupiter.api.Test;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.Pattern;

/** Non-finite inputs propagate as IEEE arithmetic says, and only to rows that attend them. */
class NonFiniteTest {

    @Test
    void aNaNValueReachesOnlyTheRowsThatAttendItWhateverTheBlockSize() {
        int seqLen = 12;
        int headDim = 3;
        float[] q = normal(1, seqLen * headDim);
        float[] k = normal(2, seqLen * headDim);
        float[] v = normal(3, seqLen * headDim);
        v[7 * headDim + 1] = Float.NaN;
        k[9 * headDim] = Float.POSITIVE_INFINITY;
        for (int blockSize : new int[] {1, 4, 16}) {
            BlockLayout layout = BlockLayout.of(Pattern.all(), seqLen, blockSize, 1);
            AttentionOutput out = SparseForward.forward(q, k, v, 1, layout, headDim, 0.5f, 64);
            for (int row = 0; row < seqLen; row++) {
                boolean attendsNaN = row >= 7;
                assertEquals(attendsNaN, Float.isNaN(out.output()[row * headDim + 1]),
                        "block " + blockSize + ", row " + row + " feature 1");
                if (row < 7) {
                    assertFalse(Float.isNaN(out.output()[row * headDim]), "block " + blockSize + ", row " + row);
                }
            }
            assertTrue(Float.isFinite(out.logSumExp()[3]), "row 3 sees neither key 7 nor key 9");
        }
    }

    @Test
    void theDenseReferenceKeepsANaNValueToTheRowsThatAttendIt() {
        int seqLen = 12;
        int headDim = 3;
        float[] q = normal(1, seqLen * headDim);
        float[] k = normal(2, seqLen * headDim);
        float[] v = normal(3, seqLen * headDim);
        v[7 * headDim + 1] = Float.NaN;
        v[9 * headDim + 2] = Float.POSITIVE_INFINITY;
        AttentionOutput dense = DenseAttention.compute(q, k, v, 1, seqLen, 1, headDim, Pattern.all(), 0.5f);
        AttentionOutput sparse = SparseForward.forward(q, k, v, 1, BlockLayout.of(Pattern.all(), seqLen, 4, 1),
                headDim, 0.5f, 64);
        for (int row = 0; row < seqLen; row++) {
            assertEquals(row >= 7, Float.isNaN(dense.output()[row * headDim + 1]), "row " + row + " feature 1");
            assertEquals(row >= 9, Float.isInfinite(dense.output()[row * headDim + 2]), "row " + row + " feature 2");
            for (int d = 0; d < headDim; d++) {
                float expected = sparse.output()[row * headDim + d];
                float actual = dense.output()[row * headDim + d];
                if (Float.isFinite(expected)) {
                    assertEquals(expected, actual, 1e-5f * Math.max(1f, Math.abs(expected)),
                            "row " + row + " feature " + d);
                } else {
                    assertEquals(expected, actual, "row " + row + " feature " + d);
                }
            }
        }
    }
}
