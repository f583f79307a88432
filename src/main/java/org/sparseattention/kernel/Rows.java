package org.sparseattention.kernel;

/**
 * Rows of one batch item of a {@code [B, L, E]} tensor with {@code E = H * D}: {@code data()[offset(t)
 * + headOffset(h, D) ..] } holds the {@code D} features of head {@code h} at sequence position
 * {@code t}. Lets a task hold only the rows it needs, and the in-process kernel hold each head's
 * rows apart.
 */
public interface Rows {
    float[] data();

    /** Returns the offset of position {@code position} in {@link #data()}. */
    int offset(int position);

    /** Returns where head {@code head}'s features lie from a position's offset: by default within its row. */
    default int headOffset(int head, int headDim) {
        return head * headDim;
    }

    /** Returns whether each head's features of consecutive positions are adjacent (see {@link #headMajor}). */
    default boolean headMajor() {
        return false;
    }

    /** Returns rows stored contiguously: position {@code t} at {@code base + t * rowLength}. */
    static Rows dense(float[] data, int base, int rowLength) {
        return new Rows() {
            @Override
            public float[] data() {
                return data;
            }

            @Override
            public int offset(int position) {
                return base + position * rowLength;
            }
        };
    }

    /**
     * Returns rows stored head by head, {@code [H, L, D]}: head {@code h} of position {@code t} at
     * {@code (h * seqLen + t) * headDim}, so that a key block's rows of one head are adjacent.
     */
    static Rows headMajor(float[] data, int seqLen, int headDim) {
        return new Rows() {
            @Override
            public float[] data() {
                return data;
            }

            @Override
            public int offset(int position) {
                return position * headDim;
            }

            @Override
            public int headOffset(int head, int headDim) {
                return head * seqLen * headDim;
            }

            @Override
            public boolean headMajor() {
                return true;
            }
        };
    }
}
