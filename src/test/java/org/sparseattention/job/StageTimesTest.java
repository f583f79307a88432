package org.sparseattention.job;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.spark.executor.TaskMetrics;
import org.junit.jupiter.api.Test;

/** The stage line's account of where its tasks' time went. */
class StageTimesTest {

    private static TaskMetrics metrics(long runMillis, long cpuNanos, long gcMillis, long shuffleWriteNanos) {
        TaskMetrics metrics = new TaskMetrics();
        metrics.setExecutorDeserializeTime(40);
        metrics.setExecutorRunTime(runMillis);
        metrics.setExecutorCpuTime(cpuNanos);
        metrics.setJvmGCTime(gcMillis);
        metrics.shuffleWriteMetrics().incWriteTime(shuffleWriteNanos);
        return metrics;
    }

    @Test
    void phasesAndShuffleWritingAreTakenFromTheTaskTimeAndTheRestIsOther() {
        // reading 1.25 s, kernel 6 s, no merging, cutting 0.5 s, shuffle writing 1 s of 10 s.
        String line = StageTimes.breakdown(metrics(10_000, 8_000_000_000L, 120, 1_000_000_000L),
                new long[] {1_250_000_000L, 6_000_000_000L, 0, 500_000_000L, 0});
        assertEquals("; task time 10.000 s: reading 1.250, kernel 6.000, cutting 0.500,"
                + " writing shuffle 1.000, other 1.250 (GC 0.120); CPU 8.000 s; deserialising tasks 0.040 s", line);
    }

    @Test
    void readingAndKernelAreAlwaysShownAndEmptyPhasesAreNot() {
        String line = StageTimes.breakdown(metrics(2_000, 1_500_000_000L, 0, 0),
                new long[] {0, 0, 250_000_000L, 0, 125_000_000L});
        assertEquals("; task time 2.000 s: reading 0.000, kernel 0.000, merging 0.250,"
                + " writing output 0.125, other 1.625 (GC 0.000); CPU 1.500 s; deserialising tasks 0.040 s", line);
    }

    /** A stage failed on bad input says so and leaves the input and the value to the run's last line. */
    @Test
    void aStageFailedOnBadInputLeavesTheDetailsToTheLastLine() {
        String cancelled = "Job 0 cancelled part of cancelled job group sparse-attention-x\n\tat x.y(Z.java:1)";
        assertEquals(", failed on bad input (named below)", StageTimes.failure(cancelled, true));
        assertEquals(", failed: Job 0 cancelled part of cancelled job group sparse-attention-x",
                StageTimes.failure(cancelled, false));
        // A full disk: the run's last line names the directories.
        assertEquals(", failed on a full disk (below)", StageTimes.failure("Job aborted due to stage failure: Task 1 in"
                + " stage 1.0 failed 1 times, most recent failure: Lost task 1.0: org.apache.spark.SparkException: Task"
                + " failed while writing rows\nCaused by: org.apache.hadoop.fs.FSError: java.io.IOException: No space left"
                + " on device", false));
    }
}
