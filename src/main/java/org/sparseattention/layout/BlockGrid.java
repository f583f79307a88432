package org.sparseattention.layout;

import org.sparseattention.errors.InvalidInputException;

/** The rows of a frame cut into blocks of {@code blockSize}; the last block may be short. */
public record BlockGrid(Frame frame, int blockSize) {

    public BlockGrid {
        if (blockSize < 1) {
            throw new InvalidInputException("block size must be >= 1, got " + blockSize);
        }
    }

    public int seqLen() {
        return frame.seqLen();
    }

    /** Returns the number of blocks, the last one possibly short. */
    public int numBlocks() {
        return (int) ((frame.seqLen() + (long) blockSize - 1) / blockSize);
    }

    /** Returns the first frame row of block {@code block}. */
    public int blockStart(int block) {
        return block * blockSize;
    }

    /** Returns one past the last frame row of block {@code block}. */
    public int blockEnd(int block) {
        return (int) Math.min(frame.seqLen(), (long) (block + 1) * blockSize);
    }

    /** Returns the number of rows of block {@code block}. */
    public int blockRows(int block) {
        return blockEnd(block) - blockStart(block);
    }
}
