package org.sparseattention.job;

import java.util.Arrays;
import org.sparseattention.kernel.Rows;

/** Some rows of one batch item: {@code positions} ascending, their values packed in that order. */
final class SparseRows implements Rows {
    private final int[] positions;
    private final float[] data;
    private final int rowLength;

    SparseRows(int[] positions, float[] data, int rowLength) {
        this.positions = positions;
        this.data = data;
        this.rowLength = rowLength;
    }

    @Override
    public float[] data() {
        return data;
    }

    @Override
    public int offset(int position) {
        int index = Arrays.binarySearch(positions, position);
        if (index < 0) {
            throw new IllegalStateException("row " + position + " was not read for this unit");
        }
        return index * rowLength;
    }
}
