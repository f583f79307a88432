package org.sparseattention.kernel;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseattention.layout.BlockGrid;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.TileList;

/**
 * Computes block-sparse attention for the tiles of a {@link BlockLayout} with ND4J.
 *
 * <p>For one query block of one head, the key blocks of its tile list are gathered into one
 * matrix, scores come from one matrix product, the token rule masks partial tiles, the softmax
 * runs on plain arrays, and a second matrix product gives the output: two ND4J calls per query
 * block and head, never one per tile. Not thread-safe: use one instance per thread.
 */
public final class BlockSparseKernel {
    private static final int MAX_CACHED_MATRICES = 40;
    private final BlockLayout layout;
    private final int headDim;
    private final float scale;
    private final TileList tiles = new TileList();
    /** Matrices by role and shape; a few dozen shapes recur, the rest are dropped. */
    private final Map<Long, Matrix> matrices = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, Matrix> eldest) {
            return size() > MAX_CACHED_MATRICES;
        }
    };
    private float[] rowScratch = new float[0];
    private float[] scoreScratch = new float[0];
    private int[] keyPositions = new int[0];
    private long allowedPairs;

    /** A reusable ND4J matrix and a direct view of its memory. */
    private record Matrix(INDArray array, FloatBuffer buffer) {
    }

    public BlockSparseKernel(BlockLayout layout, int headDim, float scale) {
        this.layout = layout;
        this.headDim = headDim;
        this.scale = scale;
    }

    /** Returns the allowed (query, key) pairs computed so far: the useful work done. */
    public long allowedPairs() {
        return allowedPairs;
    }

    /**
     * Computes the attention of the rows of query blocks {@code [fromBlock, toBlock)} of
     * {@code frame}, all heads, over the key blocks at positions {@code [fromKey, toKey)} of each
     * query block's tile list (use 0 and {@code Integer.MAX_VALUE} for all of them).
     */
    public Partial compute(Rows q, Rows k, Rows v, int frame, int fromBlock, int toBlock, int fromKey, int toKey) {
        BlockGrid grid = layout.grid(frame);
        int heads = layout.heads();
        int firstRow = grid.blockStart(fromBlock);
        int rows = grid.blockEnd(toBlock - 1) - firstRow;
        int[] positions = new int[rows];
        for (int r = 0; r < rows; r++) {
            positions[r] = grid.frame().original(firstRow + r);
        }
        float[] output = new float[rows * heads * headDim];
        float[] logSumExp = new float[rows * heads];
        Arrays.fill(logSumExp, Float.NEGATIVE_INFINITY);
        for (int qb = fromBlock; qb < toBlock; qb++) {
            for (int h = 0; h < heads; h++) {
                layout.keyBlocks(frame, h, qb, tiles);
                int first = Math.max(0, fromKey);
                int last = Math.min(tiles.size(), toKey);
                if (first < last) {
                    queryBlock(q, k, v, frame, grid, h, qb, first, last,
                            output, logSumExp, grid.blockStart(qb) - firstRow);
                }
            }
        }
        return new Partial(positions, heads, headDim, output, logSumExp);
    }

    private void queryBlock(Rows q, Rows k, Rows v, int frame, BlockGrid grid, int head, int qb,
            int firstTile, int lastTile, float[] output, float[] logSumExp, int outRow) {
        int queryRows = grid.blockRows(qb);
        int keyRows = 0;
        for (int t = firstTile; t < lastTile; t++) {
            keyRows += grid.blockRows(tiles.keyBlock(t));
        }
        Matrix query = matrix(0, queryRows, headDim);
        Matrix keys = matrix(1, keyRows, headDim);
        Matrix values = matrix(2, keyRows, headDim);
        Matrix scores = matrix(3, queryRows, keyRows);
        Matrix result = matrix(4, queryRows, headDim);

        gather(q, grid, grid.blockStart(qb), queryRows, head, query.buffer, 0);
        int keyRow = 0;
        for (int t = firstTile; t < lastTile; t++) {
            int kb = tiles.keyBlock(t);
            gather(k, grid, grid.blockStart(kb), grid.blockRows(kb), head, keys.buffer, keyRow * headDim);
            gather(v, grid, grid.blockStart(kb), grid.blockRows(kb), head, values.buffer, keyRow * headDim);
            keyRow += grid.blockRows(kb);
        }
        Nd4j.gemm(query.array, keys.array, scores.array, false, true, scale, 0.0);

        int cells = queryRows * keyRows;
        if (scoreScratch.length < cells) {
            scoreScratch = new float[cells];
        }
        float[] s = scoreScratch;
        scores.buffer.get(0, s, 0, cells);
        applyMask(frame, grid, head, qb, firstTile, lastTile, s, keyRows);
        double[] inverseSums = new double[queryRows];
        float[] rowLse = new float[queryRows];
        for (int r = 0; r < queryRows; r++) {
            float max = Softmax.max(s, r * keyRows, keyRows);
            if (max == Float.NEGATIVE_INFINITY) {
                Arrays.fill(s, r * keyRows, (r + 1) * keyRows, 0f);
                rowLse[r] = Float.NEGATIVE_INFINITY;
                continue;
            }
            double sum = Softmax.expShifted(s, r * keyRows, keyRows, max);
            inverseSums[r] = 1.0 / sum;
            rowLse[r] = (float) (max + Math.log(sum));
        }
        scores.buffer.put(0, s, 0, cells);
        Nd4j.gemm(scores.array, values.array, result.array, false, false, 1.0, 0.0);

        int heads = layout.heads();
        int rowLength = heads * headDim;
        if (rowScratch.length < queryRows * headDim) {
            rowScratch = new float[queryRows * headDim];
        }
        result.buffer.get(0, rowScratch, 0, queryRows * headDim);
        for (int r = 0; r < queryRows; r++) {
            int out = (outRow + r) * rowLength + head * headDim;
            float inverse = (float) inverseSums[r];
            for (int d = 0; d < headDim; d++) {
                output[out + d] = rowScratch[r * headDim + d] * inverse;
            }
            logSumExp[(outRow + r) * heads + head] = rowLse[r];
        }
    }

    /** Sets the scores of pairs that the token rule forbids in partial tiles to {@code -inf}. */
    private void applyMask(int frame, BlockGrid grid, int head, int qb, int firstTile, int lastTile,
            float[] s, int keyRows) {
        int queryStart = grid.blockStart(qb);
        int queryRows = grid.blockRows(qb);
        int column = 0;
        for (int t = firstTile; t < lastTile; t++) {
            int kb = tiles.keyBlock(t);
            int keyStart = grid.blockStart(kb);
            int width = grid.blockRows(kb);
            if (tiles.isFull(t)) {
                allowedPairs += (long) queryRows * width;
            } else {
                int[] keys = keyPositions;
                if (keys.length < width) {
                    keys = keyPositions = new int[width];
                }
                for (int c = 0; c < width; c++) {
                    keys[c] = grid.frame().original(keyStart + c);
                }
                for (int r = 0; r < queryRows; r++) {
                    int query = grid.frame().original(queryStart + r);
                    int base = r * keyRows + column;
                    for (int c = 0; c < width; c++) {
                        if (layout.allowedPositions(frame, head, query, keys[c])) {
                            allowedPairs++;
                        } else {
                            s[base + c] = Float.NEGATIVE_INFINITY;
                        }
                    }
                }
            }
            column += width;
        }
    }

    /** Copies the head slice of frame rows {@code [start, start + count)} to {@code target[at ..]}. */
    private void gather(Rows source, BlockGrid grid, int start, int count, int head, FloatBuffer target, int at) {
        float[] data = source.data();
        for (int r = 0; r < count; r++) {
            int offset = source.offset(grid.frame().original(start + r)) + head * headDim;
            target.put(at, data, offset, headDim);
            at += headDim;
        }
    }

    /** Returns the cached matrix of role {@code role} and shape {@code [rows, cols]}. */
    private Matrix matrix(int role, int rows, int cols) {
        long key = ((long) role << 48) | ((long) rows << 24) | cols;
        return matrices.computeIfAbsent(key, unused -> {
            INDArray array = Nd4j.create(DataType.FLOAT, rows, cols);
            return new Matrix(array, DenseAttention.view(array));
        });
    }
}
