package org.sparseattention.layout;

/**
 * The last {@code context} positions: {@code 0 <= i - j < context}. A context of zero or less
 * means {@code all}, as in the reference code.
 */
public record LocalPattern(int context) implements Elementary {

    /** Returns the largest allowed distance {@code i - j}. */
    private long maxDistance() {
        return context <= 0 ? Long.MAX_VALUE : context - 1L;
    }

    @Override
    public boolean allows(int head, int query, int key) {
        long distance = (long) query - key;
        return distance >= 0 && distance <= maxDistance();
    }

    @Override
    public int frameStride() {
        return 1;
    }

    @Override
    public void addTiles(int head, BlockGrid grid, int queryBlock, TileList out) {
        int rowStart = grid.blockStart(queryBlock);
        int rowLast = grid.blockEnd(queryBlock) - 1;
        long firstKey = Math.max(0L, rowStart - maxDistance());
        for (int kb = (int) (firstKey / grid.blockSize()); kb <= queryBlock; kb++) {
            int keyStart = grid.blockStart(kb);
            int keyLast = grid.blockEnd(kb) - 1;
            boolean full = rowStart - keyLast >= 0 && (long) rowLast - keyStart <= maxDistance();
            out.add(kb, full);
        }
    }

    @Override
    public boolean mayAllowAny(int head, int iMin, int iMax, int jMin, int jMax) {
        long minDistance = Math.max(0L, (long) iMin - jMax);
        long maxDistance = (long) iMax - jMin;
        return maxDistance >= 0 && minDistance <= maxDistance();
    }

    @Override
    public int firstAllowedInOwnFrame(int head, Frame frame, int row) {
        return (int) Math.max(0L, row - maxDistance());
    }

    @Override
    public int firstAllowedInClass(int head, Frame frame, int row) {
        long steps = maxDistance() / frame.stride();
        return (int) Math.max(frame.classStart(frame.classOf(row)), row - steps);
    }

    @Override
    public String describe() {
        return "local";
    }
}
