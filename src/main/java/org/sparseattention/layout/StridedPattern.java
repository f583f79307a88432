package org.sparseattention.layout;

import org.sparseattention.errors.InvalidInputException;

/**
 * Every {@code stride}-th earlier position: {@code j <= i} and {@code (i - j) mod stride == 0}.
 *
 * <p>In the residue frame of the same stride each class {@code t mod stride} is contiguous, and
 * the pattern is causal attention inside each class: block-dense.
 */
public record StridedPattern(int stride) implements Elementary {

    public StridedPattern {
        if (stride < 1) {
            throw new InvalidInputException(
                    "strided: the stride localAttnCtx (--local-ctx) must be >= 1, got " + stride);
        }
    }

    @Override
    public boolean allows(int head, int query, int key) {
        return key <= query && (query - key) % stride == 0;
    }

    @Override
    public int frameStride() {
        return stride;
    }

    @Override
    public void addTiles(int head, BlockGrid grid, int queryBlock, TileList out) {
        Frame frame = grid.frame();
        int rowStart = grid.blockStart(queryBlock);
        int rowEnd = grid.blockEnd(queryBlock);
        int lastClass = frame.classOf(rowEnd - 1);
        int firstKeyBlock = frame.classStart(frame.classOf(rowStart)) / grid.blockSize();
        for (int kb = firstKeyBlock; kb <= queryBlock; kb++) {
            int keyStart = grid.blockStart(kb);
            int keyLast = grid.blockEnd(kb) - 1;
            boolean full = keyLast <= rowStart && frame.classOf(keyStart) == lastClass;
            out.add(kb, full);
        }
    }

    @Override
    public boolean mayAllowAny(int head, int iMin, int iMax, int jMin, int jMax) {
        long minDistance = Math.max(0L, (long) iMin - jMax);
        long maxDistance = (long) iMax - jMin;
        if (maxDistance < 0) {
            return false;
        }
        long firstMultiple = (minDistance + stride - 1) / stride * stride;
        return firstMultiple <= maxDistance;
    }

    @Override
    public int firstAllowedInOwnFrame(int head, Frame frame, int row) {
        return frame.classStart(frame.classOf(row));
    }

    @Override
    public int firstAllowedInClass(int head, Frame frame, int row) {
        return frame.stride() % stride == 0 ? frame.classStart(frame.classOf(row)) : NOT_AN_INTERVAL;
    }

    @Override
    public String describe() {
        return "strided";
    }
}
