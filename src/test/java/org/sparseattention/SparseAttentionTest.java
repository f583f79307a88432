package org.sparseattention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sparseattention.TestArrays.assertClose;
import static org.sparseattention.TestArrays.normal;
import static org.sparseattention.TestArrays.widen;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.kernel.ReferenceAttention;
import org.sparseattention.layout.Pattern;
import org.sparseattention.layout.Patterns;

class SparseAttentionTest {
    private static final int B = 2;
    private static final int L = 37;
    private static final int H = 3;
    private static final int D = 5;

    private static INDArray tensor(long seed, long... shape) {
        int n = 1;
        for (long s : shape) {
            n *= (int) s;
        }
        return Nd4j.create(normal(seed, n), shape, DataType.FLOAT);
    }

    private final INDArray q = tensor(11, B, L, H * D);
    private final INDArray k = tensor(12, B, L, H * D);
    private final INDArray v = tensor(13, B, L, H * D);

    @ParameterizedTest
    @ValueSource(strings = {"all", "local", "strided", "local+strided", "strided,local,all"})
    void denseAndBlockSparseGiveTheReferenceNumbers(String mode) {
        INDArray dense = SparseAttention.attentionImpl(q, k, v, H, mode, 6);
        INDArray sparse = SparseAttention.blocksparseAttentionImpl(q, k, v, H, mode, 6, 8, 1, 1);
        ReferenceAttention.Result reference = ReferenceAttention.compute(q.data().asFloat(), k.data().asFloat(),
                v.data().asFloat(), B, L, H, D, Patterns.parse(mode, 6, 8, 1, 1), 1 / Math.sqrt(D));
        assertArrayEquals(new long[] {B, L, H * D}, sparse.shape());
        assertClose(reference.output(), dense.data().asFloat(), 1e-5, mode + " dense");
        assertClose(reference.output(), sparse.data().asFloat(), 1e-5, mode + " block-sparse");
    }

    @Test
    void fixedNeedsTheBlockSizeAndGivesTheReferenceNumbersBothWays() {
        assertThrows(InvalidInputException.class, () -> SparseAttention.attentionImpl(q, k, v, H, "fixed", 8));
        // Three heads reading three different summary columns of each 12-token window.
        INDArray dense = SparseAttention.attentionImpl(q, k, v, H, "fixed", 12, 4, 3, 1);
        INDArray sparse = SparseAttention.blocksparseAttentionImpl(q, k, v, H, "fixed", 12, 4, 3, 1);
        ReferenceAttention.Result reference = ReferenceAttention.compute(q.data().asFloat(), k.data().asFloat(),
                v.data().asFloat(), B, L, H, D, Patterns.parse("fixed", 12, 4, 3, 1), 1 / Math.sqrt(D));
        assertClose(reference.output(), dense.data().asFloat(), 1e-5, "fixed dense");
        assertClose(reference.output(), sparse.data().asFloat(), 1e-5, "fixed block-sparse");
    }

    @ParameterizedTest
    @ValueSource(strings = {"all", "local", "strided", "local+strided"})
    void resultDoesNotDependOnTheBlockSize(String mode) {
        double[] first = null;
        for (int blockSize : new int[] {1, 3, 16, 64}) {
            INDArray out = SparseAttention.blocksparseAttentionImpl(q, k, v, H, mode, 5, blockSize, 1, 1);
            if (first == null) {
                first = widen(out.data().asFloat());
            } else {
                assertClose(first, out.data().asFloat(), 1e-5, mode + " block size " + blockSize);
            }
        }
    }

    @Test
    void rankTwoInputIsOneBatchItem() {
        INDArray q2 = q.slice(0).dup();
        INDArray k2 = k.slice(0).dup();
        INDArray v2 = v.slice(0).dup();
        INDArray out = SparseAttention.of(H, org.sparseattention.layout.Pattern.local(4), 8).forward(q2, k2, v2);
        INDArray batched = SparseAttention.of(H, org.sparseattention.layout.Pattern.local(4), 8).forward(q, k, v);
        assertArrayEquals(new long[] {L, H * D}, out.shape());
        assertArrayEquals(batched.slice(0).dup().data().asFloat(), out.data().asFloat());
    }

    @Test
    void logSumExpHasShapeBatchHeadsLength() {
        SparseAttention.Result result = SparseAttention.of(H, org.sparseattention.layout.Pattern.all(), 8)
                .forwardWithLogSumExp(q, k, v);
        assertArrayEquals(new long[] {B, H, L}, result.logSumExp().shape());
    }

    private static void assertMessage(String expectedPart, Runnable call) {
        InvalidInputException e = assertThrows(InvalidInputException.class, call::run);
        assertTrue(e.getMessage().contains(expectedPart), "message '" + e.getMessage() + "' lacks '" + expectedPart + "'");
    }

    @Test
    void invalidArgumentsNameTheArgumentAndBothValues() {
        assertMessage("15 % 4", () -> SparseAttention.attentionImpl(q, k, v, 4, "all", 0));
        INDArray shorter = tensor(14, B, L - 1, H * D);
        assertMessage("[2, 37, 15] != [2, 36, 15]", () -> SparseAttention.attentionImpl(q, shorter, v, H, "all", 0));
        assertMessage("q and v", () -> SparseAttention.attentionImpl(q, k, shorter, H, "all", 0));
        assertMessage("stride localAttnCtx (--local-ctx) must be >= 1, got 0",
                () -> SparseAttention.blocksparseAttentionImpl(q, k, v, H, "strided", 0, 8, 1, 1));
        assertMessage("got -2", () -> SparseAttention.blocksparseAttentionImpl(q, k, v, H, "strided", -2, 8, 1, 1));
        assertMessage("'sparse'", () -> SparseAttention.blocksparseAttentionImpl(q, k, v, H, "sparse", 4, 8, 1, 1));
        // A name that only contains "fixed" is an unknown pattern, not fixed without its block size.
        assertMessage("unknown pattern 'unfixed'", () -> SparseAttention.attentionImpl(q, k, v, H, "unfixed", 8));
        assertMessage("blockSize must be >= 1, got 0", () -> SparseAttention.attentionImpl(q, k, v, H, "all", 0, 0, 1, 1));
        assertMessage("3 % 2", () -> SparseAttention.blocksparseAttentionImpl(q, k, v, H, "fixed", 16, 8, 2, 1));
        assertMessage("10 is not a multiple of 8",
                () -> SparseAttention.blocksparseAttentionImpl(q, k, v, H, "fixed", 10, 8, 1, 1));
        assertMessage("blockSize must be >= 1, got 0",
                () -> SparseAttention.blocksparseAttentionImpl(q, k, v, H, "local", 4, 0, 1, 1));
        assertMessage("localAttnCtx (--local-ctx) must be >= 1, got -8",
                () -> SparseAttention.blocksparseAttentionImpl(q, k, v, H, "fixed", -8, 8, 1, 1));
        assertMessage("rank", () -> SparseAttention.attentionImpl(tensor(1, 2, 3, 4, 5), k, v, H, "all", 0));
        // What the configured object can check without inputs is checked as it is made, not at forward.
        assertMessage("fixed: the pattern was built for block size 8 but the layout uses 16",
                () -> SparseAttention.of(2, Pattern.fixed(32, 8, 1, 1), 16));
        assertMessage("3 % 2", () -> SparseAttention.of(3, Pattern.fixed(32, 8, 2, 1), 8));
    }

    /** Zero (every allowed key weighs the same) and negative scales are scales like any other. */
    @ParameterizedTest
    @ValueSource(doubles = {0, -0.7, 2.5})
    void anyFiniteScaleGivesTheReferenceNumbers(double scale) {
        SparseAttention.Result result = SparseAttention.of(H, Patterns.parse("local+strided", 6, 8, 1, 1), 8)
                .withScale(scale).forwardWithLogSumExp(q, k, v);
        ReferenceAttention.Result reference = ReferenceAttention.compute(q.data().asFloat(), k.data().asFloat(),
                v.data().asFloat(), B, L, H, D, Patterns.parse("local+strided", 6, 8, 1, 1), scale);
        assertClose(reference.output(), result.output().data().asFloat(), 1e-5, "scale " + scale);
        assertClose(reference.logSumExp(), result.logSumExp().data().asFloat(), 1e-5, "scale " + scale + " log-sum-exp");
    }

    @Test
    void scalesFloat32CannotUseAndANaNScaleAreRefused() {
        SparseAttention attention = SparseAttention.of(H, org.sparseattention.layout.Pattern.all(), 8);
        assertMessage("scale must be a finite number, got NaN", () -> attention.withScale(Double.NaN));
        assertMessage("scale must be a finite number, got -Infinity",
                () -> attention.withScale(Double.NEGATIVE_INFINITY));
        assertMessage("got 1.0E300, Infinity as float32", () -> attention.withScale(1e300));
        assertMessage("got 1.0E-300, 0.0 as float32", () -> attention.withScale(1e-300));
        assertMessage("pattern must not be null", () -> SparseAttention.of(H, null, 8));
    }

    @Test
    void float64ValuesBeyondFloat32AreRefusedAndTrueInfinitiesPropagate() {
        INDArray wide = q.castTo(DataType.DOUBLE);
        wide.putScalar(new long[] {1, 4, 7}, -1e39);
        assertMessage("q: value at [1, 4, 7]: expected a magnitude of at most " + Float.MAX_VALUE + " (float32), got -1.0E39",
                () -> SparseAttention.of(H, org.sparseattention.layout.Pattern.all(), 8).forward(wide, k, v));
        assertMessage("k: value at [1, 4, 7]", () -> SparseAttention.attentionImpl(q, wide, v, H, "all", 0));
        INDArray infinite = q.castTo(DataType.DOUBLE);
        infinite.putScalar(new long[] {1, 4, 7}, Double.POSITIVE_INFINITY);
        INDArray out = SparseAttention.of(H, org.sparseattention.layout.Pattern.all(), 8).forward(infinite, k, v);
        assertTrue(Double.isNaN(out.getDouble(1, 4, 5)), "row 4's head 1 (features 5-9) meets the infinity");
        assertTrue(Double.isFinite(out.getDouble(1, 4, 0)), "its head 0 does not");
    }

    @Test
    void denseAttentionRefusesScoreMatricesNoArrayHolds() {
        INDArray tall = Nd4j.zeros(DataType.FLOAT, 46341, 1);
        assertMessage("dense attention: L = 46341 needs an L x L score matrix of 2147488281 values",
                () -> SparseAttention.attentionImpl(tall, tall, tall, 1, "all", 0));
    }
}
