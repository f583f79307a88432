package org.sparseattention.job;

import org.sparseattention.kernel.Rows;

/**
 * Some rows of one batch item, their values packed in the order of {@code positions} (ascending,
 * or a frame's row order). A slot table ({@code slots[position - base]} = index) finds a row in
 * constant time; the table may be a reused buffer, so every lookup is checked against
 * {@code positions}.
 */
final class SparseRows implements Rows {
    private final int[] positions;
    private final float[] data;
    private final int rowLength;
    private final int[] slots;
    private final int base;

    SparseRows(int[] positions, float[] data, int rowLength, int[] slots, int base) {
        this.positions = positions;
        this.data = data;
        this.rowLength = rowLength;
        this.slots = slots;
        this.base = base;
    }

    /**
     * Fills {@code slots} for {@code positions} (non-empty, any order, smallest {@code base}) so
     * that {@code slots[positions[i] - base] = i}, and returns {@code base}.
     */
    static int index(int[] positions, int[] slots, int base) {
        for (int i = 0; i < positions.length; i++) {
            slots[positions[i] - base] = i;
        }
        return base;
    }

    /** Returns the same rows, found the same way, with their values in {@code other} instead. */
    SparseRows withData(float[] other) {
        return new SparseRows(positions, other, rowLength, slots, base);
    }

    @Override
    public float[] data() {
        return data;
    }

    @Override
    public int offset(int position) {
        int slot = position - base;
        if (slot < 0 || slot >= slots.length || slots[slot] >= positions.length || positions[slots[slot]] != position) {
            throw new IllegalStateException("row " + position + " was not read for this unit");
        }
        return slots[slot] * rowLength;
    }
}
