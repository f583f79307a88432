package org.sparseattention.layout;

import org.sparseattention.errors.InvalidInputException;

/**
 * The paper's fixed pattern: {@code j <= i} and ({@code j div l == i div l} or
 * {@code (j mod l) div blockSize} is a summary column of head {@code h}).
 *
 * <p>With {@code S = l / blockSize} blocks per window and {@code r = h mod numVerts}, head
 * {@code h} reads the columns {@code S-1 - r*vertsize - m}, {@code m = 0..vertsize-1}.
 */
public record FixedPattern(int context, int blockSize, int numVerts, int vertsize) implements Elementary {

    public FixedPattern {
        if (blockSize < 1) {
            throw new InvalidInputException("fixed: blockSize (--block-size) must be >= 1, got " + blockSize);
        }
        if (context <= 0) {
            throw new InvalidInputException("fixed: localAttnCtx (--local-ctx) must be >= 1, got " + context);
        }
        if (context % blockSize != 0) {
            throw new InvalidInputException("fixed: localAttnCtx (--local-ctx) must be a positive multiple of blockSize (--block-size): "
                    + context + " is not a multiple of " + blockSize);
        }
        if (numVerts < 1) {
            throw new InvalidInputException("fixed: numVerts (--num-verts) must be >= 1, got " + numVerts);
        }
        if (vertsize < 1) {
            throw new InvalidInputException("fixed: vertsize (--vertsize) must be >= 1, got " + vertsize);
        }
        int blocksPerWindow = context / blockSize;
        if (blocksPerWindow % vertsize != 0) {
            throw new InvalidInputException("fixed: blocks per window (localAttnCtx / blockSize, --local-ctx " + context
                    + " / --block-size " + blockSize + " = " + blocksPerWindow
                    + ") must be a multiple of vertsize (--vertsize) " + vertsize);
        }
        if ((long) numVerts * vertsize > blocksPerWindow) {
            throw new InvalidInputException("fixed: numVerts * vertsize (--num-verts x --vertsize) must be <= blocks per window"
                    + " (--local-ctx " + context + " / --block-size " + blockSize + "): " + numVerts + " * " + vertsize
                    + " > " + blocksPerWindow);
        }
    }

    /** Returns the number of blocks in one window, {@code S = context / blockSize}. */
    public int blocksPerWindow() {
        return context / blockSize;
    }

    /** Returns whether block column {@code column} (0..S-1) is a summary column of {@code head}. */
    public boolean isSummaryColumn(int head, int column) {
        int first = blocksPerWindow() - 1 - (head % numVerts) * vertsize;
        return column <= first && column > first - vertsize;
    }

    /** Refuses a layout of another block size: the summary columns are counted in this pattern's blocks. */
    @Override
    public void checkBlockSize(int layoutBlockSize) {
        if (layoutBlockSize != blockSize) {
            throw new InvalidInputException("fixed: the pattern was built for block size " + blockSize
                    + " but the layout uses " + layoutBlockSize);
        }
    }

    @Override
    public void checkHeads(int heads) {
        if (heads % numVerts != 0) {
            throw new InvalidInputException("fixed: heads (--heads) must be a multiple of numVerts (--num-verts),"
                    + " whose summary column offsets the heads take in turn: " + heads + " % " + numVerts + " != 0");
        }
    }

    @Override
    public boolean allows(int head, int query, int key) {
        if (key > query) {
            return false;
        }
        return key / context == query / context || isSummaryColumn(head, (key % context) / blockSize);
    }

    @Override
    public int frameStride() {
        return 1;
    }

    @Override
    public void addTiles(int head, BlockGrid grid, int queryBlock, TileList out) {
        int perWindow = blocksPerWindow();
        int window = queryBlock / perWindow;
        // The summary columns of this head, [first - vertsize + 1, first] (isSummaryColumn), listed
        // directly: scanning every column of every earlier window cost O(L) per row.
        int first = perWindow - 1 - (head % numVerts) * vertsize;
        for (int w = 0; w < window; w++) {
            for (int column = first - vertsize + 1; column <= first; column++) {
                out.add(w * perWindow + column, true);
            }
        }
        int rowStart = grid.blockStart(queryBlock);
        for (int kb = window * perWindow; kb <= queryBlock; kb++) {
            out.add(kb, grid.blockEnd(kb) - 1 <= rowStart);
        }
    }

    @Override
    public boolean mayAllowAny(int head, int iMin, int iMax, int jMin, int jMax) {
        return jMin <= iMax;
    }

    /** In partial tiles only the query's own window counts: summary tiles of earlier windows are full. */
    @Override
    public int firstAllowedInOwnFrame(int head, Frame frame, int row) {
        return row / context * context;
    }

    /**
     * In a frame whose stride is a multiple of the window, a class's keys share one column and lie
     * a window or more apart: a summary column allows every key of the class up to the row, any
     * other only the row's own window, which holds the row alone.
     */
    @Override
    public int firstAllowedInClass(int head, Frame frame, int row) {
        if (frame.stride() % context != 0) {
            return NOT_AN_INTERVAL;
        }
        return isSummaryColumn(head, frame.original(row) % context / blockSize) ? frame.classStart(frame.classOf(row))
                : row;
    }

    @Override
    public String describe() {
        return "fixed";
    }
}
