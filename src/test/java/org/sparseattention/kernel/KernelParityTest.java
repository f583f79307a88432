package org.sparseattention.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.sparseattention.TestArrays.assertClose;
import static org.sparseattention.TestArrays.normal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.Pattern;
import org.sparseattention.layout.Patterns;

/** The kernel against the float64 reference on awkward shapes, every mode and mix. */
class KernelParityTest {
    static final double TOLERANCE = 1e-5;

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        String[] modes = {"all", "local", "strided", "local+strided", "local,strided", "strided,all,local"};
        int[][] shapes = {
            // seqLen, blockSize, heads, headDim, localAttnCtx
            {1, 1, 1, 1, 1}, {1, 64, 3, 8, 4}, {17, 3, 1, 8, 5}, {17, 16, 3, 1, 4}, {100, 16, 4, 8, 16},
            {100, 3, 3, 64, 10}, {257, 64, 1, 8, 32}, {257, 16, 4, 1, 7}, {1000, 64, 3, 8, 100},
            {1000, 16, 1, 64, 32}, {1000, 64, 2, 64, 256}, {300, 48, 2, 16, 70}, {300, 32, 2, 24, 50},
            // a block far larger than the sequence: one short block, scratch sized by its rows
            {100, Integer.MAX_VALUE, 2, 8, 10},
            // heads of odd widths in blocks of 64 (4 x 4 output blocks with a feature tail), blocks
            // of 56 (output panels across key blocks), contexts of 1 and longer than the sequence
            {300, 64, 2, 5, 70}, {400, 64, 1, 33, 100}, {257, 56, 2, 12, 60}, {30, 8, 2, 8, 1}, {50, 16, 2, 8, 64},
        };
        for (int[] s : shapes) {
            for (String mode : modes) {
                cases.add(Arguments.of(mode, s[0], s[1], s[2], s[3], s[4], 1, 1));
            }
        }
        // fixed: localAttnCtx a multiple of the block size, heads a multiple of numVerts.
        cases.add(Arguments.of("fixed", 17, 1, 3, 8, 4, 3, 1));
        cases.add(Arguments.of("fixed", 100, 3, 4, 8, 12, 2, 2));
        cases.add(Arguments.of("fixed", 257, 16, 4, 64, 64, 4, 1));
        cases.add(Arguments.of("fixed", 1000, 64, 4, 8, 256, 2, 1));
        cases.add(Arguments.of("fixed+strided", 257, 16, 4, 8, 64, 2, 2));
        cases.add(Arguments.of("fixed,local", 100, 3, 2, 8, 9, 1, 1));
        cases.add(Arguments.of("all+strided", 257, 16, 3, 8, 12, 1, 1));
        cases.add(Arguments.of("all+strided,local+strided", 300, 32, 2, 24, 50, 1, 1));
        // every column of a window a summary column, and as many heads' columns as a window holds
        cases.add(Arguments.of("fixed", 200, 8, 2, 8, 32, 1, 4));
        cases.add(Arguments.of("fixed", 200, 8, 2, 8, 32, 2, 2));
        cases.add(Arguments.of("fixed", 1000, 56, 2, 12, 224, 2, 1));
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} L={1} bs={2} H={3} D={4} l={5}")
    @MethodSource("cases")
    void kernelMatchesFloat64Reference(String mode, int seqLen, int blockSize, int heads, int headDim,
            int context, int numVerts, int vertsize) {
        int batch = 2;
        int n = batch * seqLen * heads * headDim;
        float[] q = normal(1, n);
        float[] k = normal(2, n);
        float[] v = normal(3, n);
        Pattern pattern = Patterns.parse(mode, context, blockSize, numVerts, vertsize);
        BlockLayout layout = BlockLayout.of(pattern, seqLen, blockSize, heads);
        float scale = (float) (1 / Math.sqrt(headDim));
        ReferenceAttention.Result expected = ReferenceAttention.compute(q, k, v, batch, seqLen, heads, headDim,
                pattern, scale);
        AttentionOutput actual = SparseForward.forward(q, k, v, batch, layout, headDim, scale, 64);
        assertClose(expected.output(), actual.output(), TOLERANCE, mode + " output");
        assertClose(expected.logSumExp(), actual.logSumExp(), TOLERANCE, mode + " log-sum-exp");

        AttentionOutput split = SparseForward.forward(q, k, v, batch, layout, headDim, scale, 2);
        assertClose(expected.output(), split.output(), TOLERANCE, mode + " output, keys in chunks of 2 blocks");
        assertClose(expected.logSumExp(), split.logSumExp(), TOLERANCE, mode + " log-sum-exp, chunks of 2");
        AttentionOutput single = SparseForward.forward(q, k, v, batch, layout, headDim, scale, 1);
        assertClose(expected.output(), single.output(), TOLERANCE, mode + " output, keys block by block");
        assertClose(expected.logSumExp(), single.logSumExp(), TOLERANCE, mode + " log-sum-exp, block by block");

        AttentionOutput threaded = SparseForward.forward(q, k, v, batch, layout, headDim, scale, 2, 3);
        assertArrayEquals(split.output(), threaded.output(), mode + " output on 3 threads");
        assertArrayEquals(split.logSumExp(), threaded.logSumExp(), mode + " log-sum-exp on 3 threads");

        if (seqLen <= 257) {
            AttentionOutput dense = DenseAttention.compute(q, k, v, batch, seqLen, heads, headDim, pattern, scale);
            assertClose(expected.output(), dense.output(), TOLERANCE, mode + " dense output");
            assertClose(expected.logSumExp(), dense.logSumExp(), TOLERANCE, mode + " dense log-sum-exp");
        }
    }

    /**
     * Into an output that holds other values (a reused one): every value written, the same bits; and
     * every argument of the float-array entry points checked.
     */
    @Test
    void forwardIntoAUsedOutputGivesTheBitsOfAFreshOne() {
        int batch = 2;
        int seqLen = 300;
        int heads = 2;
        int headDim = 8;
        int n = batch * seqLen * heads * headDim;
        float[] q = normal(4, n);
        float[] k = normal(5, n);
        float[] v = normal(6, n);
        BlockLayout layout = BlockLayout.of(Patterns.parse("local+strided", 40, 16, 1, 1), seqLen, 16, heads);
        AttentionOutput fresh = SparseForward.forward(q, k, v, batch, layout, headDim, 0.4f, 3, 2);
        AttentionOutput used = new AttentionOutput(batch, seqLen, heads, headDim, new float[n],
                new float[batch * heads * seqLen]);
        Arrays.fill(used.output(), Float.NaN);
        Arrays.fill(used.logSumExp(), 7f);
        SparseForward.forward(q, k, v, layout, 0.4f, 3, 2, used);
        assertArrayEquals(fresh.output(), used.output());
        assertArrayEquals(fresh.logSumExp(), used.logSumExp());
        AttentionOutput wrongLength = new AttentionOutput(batch, seqLen + 1, heads, headDim,
                new float[batch * (seqLen + 1) * heads * headDim], new float[batch * heads * (seqLen + 1)]);
        InvalidInputException rows = assertThrows(InvalidInputException.class,
                () -> SparseForward.forward(q, k, v, layout, 0.4f, 3, 2, wrongLength));
        assertEquals("into: an output of " + (seqLen + 1) + " rows and 2 heads for a layout of " + seqLen + " rows and 2"
                + " heads", rows.getMessage());
        // Every argument checked, named with both values, before any work (no JDK exception from inside).
        String product = "B x L x H x D = " + batch + " x " + seqLen + " x 2 x 8 = " + n + " floats";
        Object[][] cases = {
            {(Runnable) () -> SparseForward.forward(null, k, v, batch, layout, headDim, 0.4f, 3), "q must not be null"},
            {(Runnable) () -> SparseForward.forward(q, k, v, batch, null, headDim, 0.4f, 3), "layout must not be null"},
            {(Runnable) () -> SparseForward.forward(q, k, v, layout, 0.4f, 3, 1, null), "into must not be null"},
            {(Runnable) () -> SparseForward.forward(q, k, v, 0, layout, headDim, 0.4f, 3), "batch must be >= 1, got 0"},
            {(Runnable) () -> SparseForward.forward(q, k, v, -1, layout, headDim, 0.4f, 3), "batch must be >= 1, got -1"},
            {(Runnable) () -> SparseForward.forward(q, k, v, batch, layout, 0, 0.4f, 3), "headDim must be >= 1, got 0"},
            {(Runnable) () -> SparseForward.forward(q, k, v, batch, layout, headDim, 0.4f, 0),
                "maxKeyBlocks must be >= 1, got 0"},
            {(Runnable) () -> SparseForward.forward(q, k, v, batch, layout, headDim, 0.4f, 3, 0),
                "threads must be >= 1, got 0"},
            {(Runnable) () -> SparseForward.forward(q, Arrays.copyOf(k, n - 1), v, batch, layout, headDim, 0.4f, 3),
                "k: expected " + product + ", got " + (n - 1)},
            {(Runnable) () -> SparseForward.forward(q, k, v, batch, layout, 7, 0.4f, 3),
                "q: expected B x L x H x D = " + batch + " x " + seqLen + " x 2 x 7 = " + batch * seqLen * 14
                        + " floats, got " + n},
            {(Runnable) () -> new AttentionOutput(batch, seqLen, heads, headDim, new float[5], new float[batch * heads * seqLen]),
                "output: expected " + product + ", got 5"},
            {(Runnable) () -> new AttentionOutput(batch, seqLen, heads, headDim, new float[n], null),
                "logSumExp must not be null"}};
        for (Object[] c : cases) {
            InvalidInputException e = assertThrows(InvalidInputException.class, ((Runnable) c[0])::run, (String) c[1]);
            assertEquals(c[1], e.getMessage());
        }
    }
}
