package org.sparseattention.plan;

import java.io.Serializable;
import java.util.Locale;
import org.sparseattention.errors.Words;

/**
 * What a plan costs: units, the partitions that compute shuffled units, the units computed in
 * place by shard tasks (and how many such tasks), tiles per task that computes units, rows of q,
 * k and v the tasks read (a row read by two units counts twice, unless a task keeps it from one
 * unit for the next: {@link Planner#rowsRead}) against the input's {@code 3 * B * L} rows, and
 * rows that need a merge.
 */
public record PlanFigures(int units, int partitions, int inPlaceUnits, int shardTasks, long tiles,
        long maxTilesPerTask, double meanTilesPerTask, long maxRowsReadPerTask, long rowsRead, long inputRows,
        long mergedRows) implements Serializable {

    /** Returns a few lines for the console. */
    public String describe() {
        String where = inPlaceUnits == 0 ? Words.count(units, "unit") + " in " + Words.count(partitions, "partition")
                : inPlaceUnits == units ? Words.count(units, "unit") + ", " + (units == 1 ? "" : "all ")
                        + "computed in place by " + Words.count(shardTasks, "shard task")
                : Words.count(units, "unit") + ": " + inPlaceUnits + " computed in place by "
                        + Words.count(shardTasks, "shard task") + ", " + (units - inPlaceUnits) + " in "
                        + Words.count(partitions, "partition");
        return String.format(Locale.ROOT, "plan: %s; tiles %d (per task max %d, mean %.1f); rows read %d = %.2f x input"
                        + " (per task max %d); rows merged %d", where, tiles, maxTilesPerTask, meanTilesPerTask,
                rowsRead, inputRows == 0 ? 0.0 : (double) rowsRead / inputRows, maxRowsReadPerTask, mergedRows);
    }
}
