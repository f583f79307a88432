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

    /**
     * Returns whether each head's features of consecutive positions are adjacent (see
     * {@link #headMajor(float[], int, int)}).
     */
    default boolean headMajor() {
        return false;
    }

    /** Returns rows stored contiguously: position {@code t} at {@code base + t * rowLength}. */
    static Rows dense(float[] data, int base, int rowLength) {
        return new Strided(data, base, rowLength, 0);
    }

    /**
     * Returns rows stored head by head, {@code [H, L, D]}: head {@code h} of position {@code t} at
     * {@code (h * seqLen + t) * headDim}, so that a key block's rows of one head are adjacent.
     */
    static Rows headMajor(float[] data, int seqLen, int headDim) {
        return new Strided(data, 0, headDim, seqLen * headDim);
    }

    /**
     * Rows at {@code base + t * rowStride}, with a position's heads side by side in its row
     * ({@code headStride} 0) or {@code headStride} apart.
     */
    record Strided(float[] data, int base, int rowStride, int headStride) implements Rows {
        @Override
        public int offset(int position) {
            return base + position * rowStride;
        }

        @Override
        public int headOffset(int head, int headDim) {
            return head * (headStride == 0 ? headDim : headStride);
        }

        @Override
        public boolean headMajor() {
            return headStride != 0;
        }
    }
}
