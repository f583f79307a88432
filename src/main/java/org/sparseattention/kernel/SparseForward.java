package org.sparseattention.kernel;

import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.TileList;

/**
 * Block-sparse attention of a whole batch in this process, cut and merged exactly as the
 * distributed job cuts and merges it: per frame and query block, key tiles in chunks of at most
 * {@code maxKeyBlocks}, partials merged in (frame, chunk) order. The same settings give the same
 * bits here and in the job.
 */
public final class SparseForward {
    /** Key blocks per chunk when not set: rows with more keys are computed in pieces and merged. */
    public static final int DEFAULT_MAX_KEY_BLOCKS = 64;

    private SparseForward() {
    }

    /** Returns the number of key chunks of {@code queryBlock} in {@code frame}. */
    public static int chunkCount(BlockLayout layout, int frame, int queryBlock, int maxKeyBlocks, TileList scratch) {
        int tiles = layout.maxTiles(frame, queryBlock, scratch);
        return (tiles + maxKeyBlocks - 1) / maxKeyBlocks;
    }

    /** Computes attention of {@code [B, L, H * D]} float32 inputs under {@code layout}. */
    public static AttentionOutput forward(float[] q, float[] k, float[] v, int batch, BlockLayout layout,
            int headDim, float scale, int maxKeyBlocks) {
        if (maxKeyBlocks < 1) {
            throw new IllegalArgumentException("maxKeyBlocks must be >= 1, got " + maxKeyBlocks);
        }
        int seqLen = layout.seqLen();
        int heads = layout.heads();
        int rowLength = heads * headDim;
        float[] output = new float[batch * seqLen * rowLength];
        float[] logSumExp = new float[batch * heads * seqLen];
        BlockSparseKernel kernel = new BlockSparseKernel(layout, headDim, scale);
        TileList scratch = new TileList();
        for (int b = 0; b < batch; b++) {
            int base = b * seqLen * rowLength;
            Rows qRows = Rows.dense(q, base, rowLength);
            Rows kRows = Rows.dense(k, base, rowLength);
            Rows vRows = Rows.dense(v, base, rowLength);
            Accumulator accumulator = new Accumulator(seqLen, heads, headDim);
            for (int f = 0; f < layout.frameCount(); f++) {
                for (int qb = 0; qb < layout.grid(f).numBlocks(); qb++) {
                    int chunks = chunkCount(layout, f, qb, maxKeyBlocks, scratch);
                    for (int c = 0; c < chunks; c++) {
                        accumulator.merge(kernel.compute(qRows, kRows, vRows, f, qb, qb + 1,
                                c * maxKeyBlocks, (c + 1) * maxKeyBlocks));
                    }
                }
            }
            System.arraycopy(accumulator.output(), 0, output, base, seqLen * rowLength);
            AttentionOutput.transposeInto(accumulator.logSumExp(), seqLen, heads, logSumExp, b * heads * seqLen);
        }
        return new AttentionOutput(batch, seqLen, heads, headDim, output, logSumExp);
    }
}
