package org.sparseattention.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sparseattention.TestArrays.normal;

import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.Pattern;

/**
 * Finite inputs whose scores float32 cannot hold: an error naming the row and head, never a NaN
 * or an infinity returned as a result; large values and products it can hold: their result.
 */
class OverflowTest {
    private static final int SEQ_LEN = 40;
    private static final int HEADS = 2;
    private static final int HEAD_DIM = 3;
    private static final int N = 2 * SEQ_LEN * HEADS * HEAD_DIM;

    /** The sparse kernel (blocks of 8, keys in chunks of 2 blocks) and the dense path, on batch 2. */
    private static final Function<float[][], AttentionOutput> SPARSE = qkv -> SparseForward.forward(qkv[0], qkv[1],
            qkv[2], 2, BlockLayout.of(Pattern.local(20), SEQ_LEN, 8, HEADS), HEAD_DIM, 1f, 2);
    private static final Function<float[][], AttentionOutput> DENSE = qkv -> DenseAttention.compute(qkv[0], qkv[1],
            qkv[2], 2, SEQ_LEN, HEADS, HEAD_DIM, Pattern.local(20), 1f);

    private static float[][] inputs() {
        return new float[][] {normal(1, N), normal(2, N), normal(3, N)};
    }

    /** Index of feature {@code d} of head {@code h} of row {@code row} of batch item 1. */
    private static int at(int row, int h, int d) {
        return ((SEQ_LEN + row) * HEADS + h) * HEAD_DIM + d;
    }

    @Test
    void scoresBeyondFloat32AreAnErrorNamingTheRowAndHead() {
        for (Function<float[][], AttentionOutput> attention : java.util.List.of(SPARSE, DENSE)) {
            float[][] qkv = inputs();
            // q . k of row 25 with itself 4e38, beyond float32's 3.4e38, though both values are finite.
            qkv[0][at(25, 1, 0)] = 2e19f;
            qkv[1][at(25, 1, 0)] = 2e19f;
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> attention.apply(qkv));
            assertTrue(e.getMessage().startsWith("q, k: the scores of batch 1, row 25, head 1 overflow float32"),
                    e.getMessage());
        }
    }

    @Test
    void scoresBelowFloat32ForEveryKeyOfARowAreAnErrorToo() {
        float[][] qkv = inputs();
        // Row 3 of head 0 attends keys 0..3: every score -4e38, so its log-sum-exp would come out -inf.
        for (int key = 0; key <= 3; key++) {
            qkv[1][at(key, 0, 2)] = -2e19f;
        }
        qkv[0][at(3, 0, 2)] = 2e19f;
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> SPARSE.apply(qkv));
        assertTrue(e.getMessage().contains("batch 1, row 3, head 0 overflow float32 (log-sum-exp -Infinity)"),
                e.getMessage());
    }

    /**
     * Values whose sum by weight passes float32's range though their mean, the output, does not:
     * the output, whatever the block size or the keys per chunk (the division comes first then).
     */
    @Test
    void valuesWhoseWeightedSumPassesFloat32GiveTheirMean() {
        float[][] qkv = inputs();
        java.util.Arrays.fill(qkv[0], 0f);
        for (int key = 0; key < SEQ_LEN; key++) {
            qkv[2][at(key, 0, 1)] = 3e37f;
        }
        // Equal weights; row 11's twelve keys sum to 3.6e38, beyond 3.4e38; every row's mean is 3e37.
        java.util.List<AttentionOutput> outs = new java.util.ArrayList<>();
        for (int blockSize : new int[] {1, 8, 64}) {
            for (int chunk : new int[] {1, 2, 64}) {
                outs.add(SparseForward.forward(qkv[0], qkv[1], qkv[2], 2,
                        BlockLayout.of(Pattern.local(20), SEQ_LEN, blockSize, HEADS), HEAD_DIM, 1f, chunk));
            }
        }
        outs.add(DENSE.apply(qkv));
        for (AttentionOutput out : outs) {
            for (int row = 0; row < SEQ_LEN; row++) {
                assertEquals(3e37f, out.output()[at(row, 0, 1)], 3e31f, "row " + row);
            }
        }
    }

    /** q . k beyond float32 with a scale that brings the score within it: the scaled score counts. */
    @Test
    void aProductBeyondFloat32ThatTheScaleBringsWithinItIsComputed() {
        float[][] qkv = inputs();
        qkv[0][at(25, 1, 0)] = 2e19f;
        qkv[1][at(25, 1, 0)] = 2e19f;
        AttentionOutput sparse = SparseForward.forward(qkv[0], qkv[1], qkv[2], 2,
                BlockLayout.of(Pattern.local(20), SEQ_LEN, 8, HEADS), HEAD_DIM, 0.125f, 2);
        AttentionOutput dense = DenseAttention.compute(qkv[0], qkv[1], qkv[2], 2, SEQ_LEN, HEADS, HEAD_DIM,
                Pattern.local(20), 0.125f);
        for (AttentionOutput out : java.util.List.of(sparse, dense)) {
            // Row 25's own key scores 5e37 and takes all the weight: its value, and lse 5e37.
            for (int d = 0; d < HEAD_DIM; d++) {
                assertEquals(qkv[2][at(25, 1, d)], out.output()[at(25, 1, d)], 1e-6f);
            }
            assertEquals(5e37f, out.logSumExp()[(HEADS + 1) * SEQ_LEN + 25], 5e31f);
        }
    }

    @Test
    void largeFiniteScoresAndValuesThatFloat32HoldsGiveTheirResult() {
        float[][] qkv = inputs();
        qkv[0][at(25, 1, 0)] = 1e19f;
        qkv[1][at(25, 1, 0)] = 1e19f;
        qkv[2][at(25, 1, 0)] = 1e38f;
        AttentionOutput sparse = SPARSE.apply(qkv);
        AttentionOutput dense = DENSE.apply(qkv);
        // Row 25 of head 1: its own key's score, 1e38, outweighs every other: output v_25, lse 1e38.
        int lse = (HEADS + 1) * SEQ_LEN + 25;
        for (AttentionOutput out : java.util.List.of(sparse, dense)) {
            assertEquals(1e38f, out.output()[at(25, 1, 0)], 1e32f);
            assertEquals(1e38f, out.logSumExp()[lse], 1e32f);
        }
    }

    @Test
    void nonFiniteInputsStillPropagateWithoutAnError() {
        float[][] qkv = inputs();
        qkv[0][at(25, 1, 0)] = Float.POSITIVE_INFINITY;
        qkv[1][at(25, 1, 0)] = 2e19f;
        AttentionOutput out = SPARSE.apply(qkv);
        assertTrue(Float.isNaN(out.output()[at(25, 1, 0)]), "row 25 of head 1 attends an infinite score");
    }
}
