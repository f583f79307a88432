package org.sparseattention.job;

import java.io.Serializable;
import org.apache.spark.SparkContext;
import org.apache.spark.util.LongAccumulator;

/**
 * Where the tasks' time goes: nanoseconds spent reading inputs, in the kernel, merging partial
 * results, cutting them into pieces and writing the output, and the input rows read (a row of k
 * and one of v count as two), added up by Spark accumulators so that each stage's line can report
 * them ({@link StageTimes}). The warm-up's tasks use {@link #NONE}.
 */
record TaskTimes(LongAccumulator reading, LongAccumulator kernel, LongAccumulator merging,
        LongAccumulator cutting, LongAccumulator writing, LongAccumulator rows) implements Serializable {

    /** The accumulators' names (as Spark's interface shows them) begin with this. */
    static final String PREFIX = "sparse-attention ";
    static final String READING = PREFIX + "reading";
    static final String KERNEL = PREFIX + "kernel";
    static final String MERGING = PREFIX + "merging";
    static final String CUTTING = PREFIX + "cutting";
    static final String WRITING = PREFIX + "writing output";
    static final String ROWS = PREFIX + "input rows read";
    /** The times of the task running on this thread, for the output format Spark creates. */
    private static final ThreadLocal<TaskTimes> CURRENT = new ThreadLocal<>();

    /** Times that go nowhere. */
    static final TaskTimes NONE = new TaskTimes(null, null, null, null, null, null);

    /** Registers one accumulator per phase on {@code spark}. */
    static TaskTimes register(SparkContext spark) {
        return new TaskTimes(spark.longAccumulator(READING), spark.longAccumulator(KERNEL),
                spark.longAccumulator(MERGING), spark.longAccumulator(CUTTING), spark.longAccumulator(WRITING),
                spark.longAccumulator(ROWS));
    }

    /**
     * Makes these the times of the task running on this thread until it ends, so that its output
     * writer, which Spark creates from a class name, can add to them ({@link #addWriting}).
     */
    void useOnThisThread() {
        CURRENT.set(this);
        org.apache.spark.TaskContext task = org.apache.spark.TaskContext.get();
        if (task != null) {
            task.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) context -> CURRENT.remove());
        }
    }

    /**
     * Adds nanoseconds spent writing output to the times of the task running on this thread, if it
     * has any (only the job's shard tasks do; {@link #NONE} is never made current).
     */
    static void addWriting(long nanos) {
        TaskTimes times = CURRENT.get();
        if (times != null) {
            times.writing.add(nanos);
        }
    }

    /**
     * Adds a task's reading and kernel nanoseconds and rows read, from its {@code runner} (none when
     * null), and the nanoseconds it spent merging and cutting.
     */
    void add(UnitRunner runner, long mergingNanos, long cuttingNanos) {
        if (reading == null) {
            return;
        }
        if (runner != null) {
            rows.add(runner.rowsRead());
            reading.add(runner.readNanos());
            kernel.add(runner.kernelNanos());
        }
        merging.add(mergingNanos);
        cutting.add(cuttingNanos);
    }
}
