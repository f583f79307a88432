package org.sparseattention.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sparseattention.TestArrays.assertClose;
import static org.sparseattention.TestArrays.normal;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.Pattern;
import org.sparseattention.layout.Patterns;
import org.sparseattention.layout.TileList;

/**
 * Rows with more tiles than {@link BlockSparseKernel#SPLIT_ABOVE_TILES} are computed in sub-chunks
 * and merged inside the kernel: the result must match the float64 reference, and have the same
 * bits whatever the calls the blocks are computed in (calls of up to 32 blocks run heads outermost
 * in one piece, longer ones in runs of 8 blocks; the job's units and the in-process ranges differ
 * in length).
 */
class SubChunkTest {
    /**
     * Rows of hundreds to thousands of keys, summed in float32: each element within 3e-5 of its
     * size (the short rows of {@link KernelParityTest} within 1e-5).
     */
    static final double LONG_ROWS = 3e-5;

    @ParameterizedTest(name = "{0} L={1} bs={2} H={3} D={4} l={5}")
    @CsvSource({"all, 1000, 4, 2, 5, 0", "all, 333, 3, 1, 8, 0", "fixed, 2000, 2, 2, 8, 40",
        "strided, 1001, 2, 2, 3, 7", "local+strided, 700, 2, 2, 8, 160",
        // Blocks and heads of 64: calls of one block read row-major rows in place, longer ones packed
        // rows, with the output product's constant-stride variant.
        "all, 4200, 64, 2, 64, 0"})
    void subChunksMatchTheReferenceInAnyCallShape(String mode, int seqLen, int blockSize, int heads, int headDim,
            int context) {
        int n = seqLen * heads * headDim;
        float[] q = normal(11, n);
        float[] k = normal(12, n);
        float[] v = normal(13, n);
        Pattern pattern = Patterns.parse(mode, context, blockSize, mode.equals("fixed") ? 2 : 1, 1);
        BlockLayout layout = BlockLayout.of(pattern, seqLen, blockSize, heads);
        assertTrue(mostTiles(layout) > 2 * BlockSparseKernel.SUB_CHUNK_TILES,
                "rows must be long enough to split in three or more sub-chunks: " + mostTiles(layout));
        float scale = (float) (1 / Math.sqrt(headDim));
        AttentionOutput ranges = SparseForward.forward(q, k, v, 1, layout, headDim, scale, Integer.MAX_VALUE);
        ReferenceAttention.Result expected = ReferenceAttention.compute(q, k, v, 1, seqLen, heads, headDim, pattern,
                scale);
        assertClose(expected.output(), ranges.output(), LONG_ROWS, mode + " output");
        assertClose(expected.logSumExp(), ranges.logSumExp(), LONG_ROWS, mode + " log-sum-exp");

        // The same frames in calls of 1, 5, 33 (in runs) and all blocks: the same bits.
        for (int callBlocks : new int[] {1, 5, BlockSparseKernel.HEADS_OUTER_MAX_BLOCKS + 1, Integer.MAX_VALUE}) {
            Accumulator accumulator = new Accumulator(seqLen, heads, headDim);
            BlockSparseKernel kernel = new BlockSparseKernel(layout, headDim, scale);
            Rows dense = Rows.dense(q, 0, heads * headDim);
            for (int f = 0; f < layout.frameCount(); f++) {
                int blocks = layout.grid(f).numBlocks();
                for (int from = 0; from < blocks; from += Math.min(callBlocks, blocks)) {
                    int to = (int) Math.min(blocks, (long) from + callBlocks);
                    accumulator.merge(kernel.compute(dense, Rows.dense(k, 0, heads * headDim),
                            Rows.dense(v, 0, heads * headDim), f, from, to, 0, Integer.MAX_VALUE));
                }
            }
            float[] lse = new float[heads * seqLen];
            AttentionOutput.transposeInto(accumulator.logSumExp(), seqLen, heads, lse, 0);
            assertArrayEquals(ranges.output(), accumulator.output(), mode + ": calls of " + callBlocks + " blocks");
            assertArrayEquals(ranges.logSumExp(), lse, mode + ": log-sum-exp, calls of " + callBlocks + " blocks");
            assertEquals(layout.stats().totalAllowedPairs(), kernel.allowedPairs(), "allowed pairs counted once");
        }
    }

    @ParameterizedTest(name = "{0} L={1} bs={2} H={3} D={4} l={5}")
    @CsvSource({"all, 300, 4, 3, 5, 0", "fixed, 1000, 8, 2, 8, 40", "local+strided, 257, 4, 2, 7, 20",
        "local+strided, 1000, 64, 2, 64, 256"})
    void headMajorRowsGiveTheBitsOfRowMajorRows(String mode, int seqLen, int blockSize, int heads, int headDim,
            int context) {
        int rowLength = heads * headDim;
        float[] q = normal(21, seqLen * rowLength);
        float[] k = normal(22, seqLen * rowLength);
        float[] v = normal(23, seqLen * rowLength);
        float[] kByHead = new float[k.length];
        float[] vByHead = new float[v.length];
        for (int t = 0; t < seqLen; t++) {
            for (int h = 0; h < heads; h++) {
                for (int d = 0; d < headDim; d++) {
                    kByHead[(h * seqLen + t) * headDim + d] = k[t * rowLength + h * headDim + d];
                    vByHead[(h * seqLen + t) * headDim + d] = v[t * rowLength + h * headDim + d];
                }
            }
        }
        Pattern pattern = Patterns.parse(mode, context, blockSize, mode.equals("fixed") ? 2 : 1, 1);
        BlockLayout layout = BlockLayout.of(pattern, seqLen, blockSize, heads);
        float scale = 0.3f;
        Accumulator rowMajor = new Accumulator(seqLen, heads, headDim);
        Accumulator headMajor = new Accumulator(seqLen, heads, headDim);
        BlockSparseKernel kernel = new BlockSparseKernel(layout, headDim, scale);
        for (int f = 0; f < layout.frameCount(); f++) {
            // Calls of 8 blocks (heads outermost, packed where rows are row-major) and of all blocks.
            int blocks = layout.grid(f).numBlocks();
            int[] cuts = {0, Math.min(8, blocks), blocks};
            for (int c = 0; c + 1 < cuts.length; c++) {
                int from = cuts[c];
                int to = cuts[c + 1];
                if (from == to) {
                    continue;
                }
                rowMajor.merge(kernel.compute(Rows.dense(q, 0, rowLength), Rows.dense(k, 0, rowLength),
                        Rows.dense(v, 0, rowLength), f, from, to, 0, Integer.MAX_VALUE));
                headMajor.merge(kernel.compute(Rows.dense(q, 0, rowLength), Rows.headMajor(kByHead, seqLen, headDim),
                        Rows.headMajor(vByHead, seqLen, headDim), f, from, to, 0, Integer.MAX_VALUE));
            }
        }
        assertArrayEquals(rowMajor.output(), headMajor.output(), mode + ": output");
        assertArrayEquals(rowMajor.logSumExp(), headMajor.logSumExp(), mode + ": log-sum-exp");
        ReferenceAttention.Result expected = ReferenceAttention.compute(q, k, v, 1, seqLen, heads, headDim, pattern,
                scale);
        assertClose(expected.output(), headMajor.output(), LONG_ROWS, mode + " vs reference");
    }

    private static int mostTiles(BlockLayout layout) {
        TileList scratch = new TileList();
        int most = 0;
        for (int f = 0; f < layout.frameCount(); f++) {
            for (int qb = 0; qb < layout.grid(f).numBlocks(); qb++) {
                most = Math.max(most, layout.maxTiles(f, qb, scratch));
            }
        }
        return most;
    }
}
