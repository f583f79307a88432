package org.sparseattention.kernel;

/**
 * Rows of one batch item of a {@code [B, L, E]} tensor: {@code data()[offset(t) ..
 * offset(t) + E)} holds sequence position {@code t}. Lets a task hold only the rows it needs.
 */
public interface Rows {
    float[] data();

    /** Returns the offset of position {@code position} in {@link #data()}. */
    int offset(int position);

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
}
