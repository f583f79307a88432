package org.sparseattention.job;

import java.util.function.Consumer;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.StageInfo;

/** Prints each finished stage of this run with its duration and shuffle volume. */
final class StageTimes extends SparkListener {
    private final Consumer<String> console;

    StageTimes(Consumer<String> console) {
        this.console = console;
    }

    @Override
    public void onStageCompleted(SparkListenerStageCompleted event) {
        StageInfo stage = event.stageInfo();
        long start = stage.submissionTime().isDefined() ? (Long) stage.submissionTime().get() : 0L;
        long end = stage.completionTime().isDefined() ? (Long) stage.completionTime().get() : start;
        long written = stage.taskMetrics().shuffleWriteMetrics().bytesWritten();
        long read = stage.taskMetrics().shuffleReadMetrics().totalBytesRead();
        console.accept(String.format("stage %d (%s): %d tasks in %.2f s, shuffle written %.1f MB, read %.1f MB%s",
                stage.stageId(), stage.name().split(" at ")[0], stage.numTasks(), (end - start) / 1000.0, written / 1e6,
                read / 1e6, stage.failureReason().isDefined() ? ", failed: " + stage.failureReason().get() : ""));
    }
}
