package org.sparseattention.layout;

import org.sparseattention.errors.InvalidInputException;

/**
 * A row order of the sequence: position {@code t} is placed in residue class {@code t mod stride},
 * classes one after another, each in increasing {@code t}. Stride 1 is the original order.
 *
 * <p>{@code original(r)} maps a frame row to its sequence position, {@code position(t)} back.
 */
public record Frame(int seqLen, int stride) {

    public Frame {
        if (seqLen < 1) {
            throw new InvalidInputException("sequence length must be >= 1, got " + seqLen);
        }
        if (stride < 1) {
            throw new InvalidInputException("frame stride must be >= 1, got " + stride);
        }
    }

    /** Returns the original order of a sequence of {@code seqLen} positions. */
    public static Frame identity(int seqLen) {
        return new Frame(seqLen, 1);
    }

    /** Returns whether this frame leaves every position in place. */
    public boolean isIdentity() {
        return stride == 1 || stride >= seqLen;
    }

    private int fullRounds() {
        return seqLen / stride;
    }

    private int longClasses() {
        return seqLen % stride;
    }

    /** Returns the first frame row of residue class {@code c}. */
    public int classStart(int c) {
        return c * fullRounds() + Math.min(c, longClasses());
    }

    /** Returns the residue class of frame row {@code row}. */
    public int classOf(int row) {
        int longRows = longClasses() * (fullRounds() + 1);
        if (row < longRows) {
            return row / (fullRounds() + 1);
        }
        return longClasses() + (row - longRows) / fullRounds();
    }

    /** Returns the sequence position at frame row {@code row}. */
    public int original(int row) {
        if (stride == 1) {
            return row;
        }
        int c = classOf(row);
        return c + (row - classStart(c)) * stride;
    }

    /** Returns the frame row of sequence position {@code position}. */
    public int position(int position) {
        if (stride == 1) {
            return position;
        }
        return classStart(position % stride) + position / stride;
    }

    /**
     * Returns the smallest and the largest sequence position of frame rows {@code [from, to)}
     * ({@code from < to}). Positions rise along a residue class, so each class the rows span
     * contributes its first and last row: time proportional to the classes, not the rows.
     */
    public int[] originalBounds(int from, int to) {
        if (isIdentity()) {
            return new int[] {from, to - 1};
        }
        int min = Integer.MAX_VALUE;
        int max = Integer.MIN_VALUE;
        for (int row = from; row < to; ) {
            int end = Math.min(to, classStart(classOf(row) + 1));
            min = Math.min(min, original(row));
            max = Math.max(max, original(end - 1));
            row = end;
        }
        return new int[] {min, max};
    }
}
