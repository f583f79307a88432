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
    private static final int SEQ_LEN = 12;
    private static final int HEAD_DIM = 3;

    /** q, k and v of one head, L=12, D=3, with a NaN at row 7, feature 1 of v. */
    private static float[][] inputsWithANaNValue() {
        float[][] qkv = {normal(1, SEQ_LEN * HEAD_DIM), normal(2, SEQ_LEN * HEAD_DIM), normal(3, SEQ_LEN * HEAD_DIM)};
        qkv[2][7 * HEAD_DIM + 1] = Float.NaN;
        return qkv;
    }

    @Test
    void aNaNValueReachesOnlyTheRowsThatAttendItWhateverTheBlockSize() {
        float[][] qkv = inputsWithANaNValue();
        qkv[1][9 * HEAD_DIM] = Float.POSITIVE_INFINITY;
        for (int blockSize : new int[] {1, 4, 16}) {
            BlockLayout layout = BlockLayout.of(Pattern.all(), SEQ_LEN, blockSize, 1);
            AttentionOutput out = SparseForward.forward(qkv[0], qkv[1], qkv[2], 1, layout, HEAD_DIM, 0.5f, 64);
            for (int row = 0; row < SEQ_LEN; row++) {
                boolean attendsNaN = row >= 7;
                assertEquals(attendsNaN, Float.isNaN(out.output()[row * HEAD_DIM + 1]),
                        "block " + blockSize + ", row " + row + " feature 1");
                if (row < 7) {
                    assertFalse(Float.isNaN(out.output()[row * HEAD_DIM]), "block " + blockSize + ", row " + row);
                }
            }
            assertTrue(Float.isFinite(out.logSumExp()[3]), "row 3 sees neither key 7 nor key 9");
        }
    }

    @Test
    void theDenseReferenceKeepsANaNValueToTheRowsThatAttendIt() {
        float[][] qkv = inputsWithANaNValue();
        qkv[2][9 * HEAD_DIM + 2] = Float.POSITIVE_INFINITY;
        AttentionOutput dense = DenseAttention.compute(qkv[0], qkv[1], qkv[2], 1, SEQ_LEN, 1, HEAD_DIM, Pattern.all(),
                0.5f);
        AttentionOutput sparse = SparseForward.forward(qkv[0], qkv[1], qkv[2], 1,
                BlockLayout.of(Pattern.all(), SEQ_LEN, 4, 1),
                HEAD_DIM, 0.5f, 64);
        for (int row = 0; row < SEQ_LEN; row++) {
            assertEquals(row >= 7, Float.isNaN(dense.output()[row * HEAD_DIM + 1]), "row " + row + " feature 1");
            assertEquals(row >= 9, Float.isInfinite(dense.output()[row * HEAD_DIM + 2]), "row " + row + " feature 2");
            for (int d = 0; d < HEAD_DIM; d++) {
                float expected = sparse.output()[row * HEAD_DIM + d];
                float actual = dense.output()[row * HEAD_DIM + d];
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
