package org.sparseattention.plan;

import java.io.Serializable;
import java.util.Locale;

/**
 * What a plan costs: units, the partitions that compute shuffled units, the units computed in
 * place by shard tasks (and how many such tasks), tiles per task, rows of q, k and v the tasks
 * read (a row read by two units counts twice, unless a task keeps it from one unit for the next:
 * {@link Planner#keptRows}) against the input's {@code 3 * B * L} rows, and rows that need a merge.
 */
public record PlanFigures(int units, int partitions, int inPlaceUnits, int shardTasks, long tiles,
        long maxTilesPerTask, double meanTilesPerTask, long maxRowsReadPerTask, long rowsRead, long inputRows,
        long mergedRows) implements Serializable {

    /** Returns a few lines for the console. */
    public String describe() {
        String where = inPlaceUnits == 0 ? String.format(Locale.ROOT, "%d units in %d partitions", units, partitions)
                : String.format(Locale.ROOT, "%d units: %d computed in place by %d shard tasks, %d in %d partitions", units,
                        inPlaceUnits, shardTasks, units - inPlaceUnits, partitions);
        return String.format(Locale.ROOT, "plan: %s; tiles %d (per task max %d, mean %.1f); rows read %d = %.2f x input"
                        + " (per task max %d); rows merged %d", where, tiles, maxTilesPerTask, meanTilesPerTask,
                rowsRead, inputRows == 0 ? 0.0 : (double) rowsRead / inputRows, maxRowsReadPerTask, mergedRows);
    }
}
