package org.sparseattention.layout;

/** Dense causal attention: query {@code i} attends key {@code j} iff {@code j <= i}. */
public record AllPattern() implements Elementary {

    @Override
    public boolean allows(int head, int query, int key) {
        return key <= query;
    }

    @Override
    public int frameStride() {
        return 1;
    }

    @Override
    public void addTiles(int head, BlockGrid grid, int queryBlock, TileList out) {
        int rowStart = grid.blockStart(queryBlock);
        for (int kb = 0; kb <= queryBlock; kb++) {
            out.add(kb, grid.blockEnd(kb) - 1 <= rowStart);
        }
    }

    @Override
    public boolean mayAllowAny(int head, int iMin, int iMax, int jMin, int jMax) {
        return jMin <= iMax;
    }

    @Override
    public int firstAllowedInOwnFrame(int head, Frame frame, int row) {
        return 0;
    }

    @Override
    public int firstAllowedInClass(int head, Frame frame, int row) {
        return frame.classStart(frame.classOf(row));
    }

    @Override
    public String describe() {
        return "all";
    }
}
