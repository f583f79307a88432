package org.sparseattention.plan;

import java.io.Serializable;

/**
 * What a plan costs: units, partitions, tiles per partition, rows of q, k and v read (a row read
 * by two units counts twice) against the input's {@code 3 * B * L} rows, and rows that need a merge.
 */
public record PlanFigures(int units, int partitions, long tiles, long maxTilesPerPartition,
        double meanTilesPerPartition, long maxRowsReadPerPartition, long rowsRead, long inputRows, long mergedRows)
        implements Serializable {

    /** Returns a few lines for the console. */
    public String describe() {
        return String.format("plan: %d units in %d partitions; tiles %d (per partition max %d, mean %.1f);"
                        + " rows read %d = %.2f x input (per partition max %d); rows merged %d",
                units, partitions, tiles, maxTilesPerPartition, meanTilesPerPartition, rowsRead,
                inputRows == 0 ? 0.0 : (double) rowsRead / inputRows, maxRowsReadPerPartition, mergedRows);
    }
}
