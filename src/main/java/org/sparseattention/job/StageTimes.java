package org.sparseattention.job;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobEnd;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
import org.sparseattention.errors.Words;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Prints each finished stage of this run with its duration, shuffle volume and where its tasks'
 * time went: the run's {@link TaskTimes} phases, Spark's shuffle writing, and the rest.
 */
final class StageTimes extends SparkListener {
    /** How the operating system says a device is full, in Java's exceptions and so in Spark's failure reasons. */
    static final String NO_SPACE = "No space left on device";
    private final Consumer<String> console;
    /** Accumulator ids of the run's phases, in the order of {@link #PHASES}, then of its rows read. */
    private final long[] phaseIds;
    private static final String[] PHASES = {"reading", "kernel", "merging", "cutting", "writing output"};
    /**
     * Per stage attempt, the phases' nanoseconds summed over its tasks (a task run twice, retried
     * or speculative, counts twice: its work was done twice), then its input rows read (only the
     * listener's thread uses it).
     */
    private final Map<Long, long[]> byStage = new HashMap<>();
    /** Opened when a job ends: its stages' lines, which Spark delivers before, are then printed. */
    private final CountDownLatch jobEnded = new CountDownLatch(1);

    /** Whether a task of the run failed on bad input (a cluster's job is then cancelled, with Spark's words for that). */
    private final java.util.function.BooleanSupplier badInput;

    /** The run's job group (null: every job), and the ids of its jobs seen starting. */
    private final String group;
    private final java.util.Set<Integer> jobs = java.util.concurrent.ConcurrentHashMap.newKeySet();

    StageTimes(Consumer<String> console, TaskTimes times, java.util.function.BooleanSupplier badInput, String group) {
        this.console = console;
        this.badInput = badInput;
        this.group = group;
        this.phaseIds = new long[] {times.reading().id(), times.kernel().id(), times.merging().id(),
            times.cutting().id(), times.writing().id(), times.rows().id()};
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd event) {
        long[] nanos = byStage.computeIfAbsent(key(event.stageId(), event.stageAttemptId()),
                stage -> new long[PHASES.length + 1]);
        for (AccumulableInfo info : CollectionConverters.asJava(event.taskInfo().accumulables())) {
            for (int p = 0; p < phaseIds.length; p++) {
                if (info.id() == phaseIds[p] && info.update().isDefined()) {
                    nanos[p] += ((Number) info.update().get()).longValue();
                }
            }
        }
    }

    /** A stage attempt's key: Spark's metrics of a stage that ran again are those of its attempt alone. */
    private static long key(int stage, int attempt) {
        return (long) stage << 32 | attempt;
    }

    @Override
    public void onJobStart(SparkListenerJobStart event) {
        if (group == null || ofGroup(event, group)) {
            jobs.add(event.jobId());
        }
    }

    /** Only the run's own job: another thread's jobs on a shared context end when they end. */
    @Override
    public void onJobEnd(SparkListenerJobEnd event) {
        if (jobs.contains(event.jobId())) {
            jobEnded.countDown();
        }
    }

    /** Whether the run's job has ended, as far as this listener has heard. */
    boolean jobEnded() {
        return jobEnded.getCount() == 0;
    }

    /**
     * Waits up to {@code seconds} for the end of the run's job to reach this listener, so that every
     * stage's line is printed before the run's summary (Spark delivers events on its own thread).
     */
    void awaitJobEnd(long seconds) {
        try {
            jobEnded.await(seconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void onStageCompleted(SparkListenerStageCompleted event) {
        StageInfo stage = event.stageInfo();
        long start = stage.submissionTime().isDefined() ? (Long) stage.submissionTime().get() : 0L;
        long end = stage.completionTime().isDefined() ? (Long) stage.completionTime().get() : start;
        TaskMetrics metrics = stage.taskMetrics();
        long written = metrics.shuffleWriteMetrics().bytesWritten();
        long read = metrics.shuffleReadMetrics().totalBytesRead();
        long[] figures = byStage.getOrDefault(key(stage.stageId(), stage.attemptNumber()), new long[PHASES.length + 1]);
        boolean stopping = org.apache.hadoop.util.ShutdownHookManager.get().isShutdownInProgress();
        if (stage.failureReason().isDefined() && stopping) {
            // The figures of tasks a signal stopped say nothing of the stage.
            console.accept(String.format(Locale.ROOT, "stage %d (%s): stopped by the interruption (below)",
                    stage.stageId(), stage.name().split(" at ")[0]));
            return;
        }
        String head = String.format(Locale.ROOT, "stage %d (%s): %s in %.2f s", stage.stageId(),
                stage.name().split(" at ")[0], Words.count(stage.numTasks(), "task"), (end - start) / 1000.0);
        if (stage.failureReason().isDefined()) {
            // Its rows read, CPU time and phases count only the tasks that finished: no account of its work.
            console.accept(head + failure(stage.failureReason().get(), badInput.getAsBoolean()));
            return;
        }
        console.accept(String.format(Locale.ROOT, "%s, input rows read %d, shuffle written %.1f MB, read %.1f MB%s", head,
                figures[PHASES.length], written / 1e6, read / 1e6, breakdown(metrics, figures)));
    }

    /**
     * Returns how a stage line ends for a stage that failed for {@code reason}: its first line, or,
     * where a task failed on bad input or on a full disk, only that (the run's last line names the
     * input and the value, or the directories; on a cluster Spark's reason speaks of the cancelled
     * job group instead). A stage a signal stopped has a line of its own ({@link #onStageCompleted}).
     */
    static String failure(String reason, boolean badInput) {
        return badInput ? ", failed on bad input (named below)"
                : reason.contains(NO_SPACE) ? ", failed on a full disk (below)"
                : ", failed: " + reason.lines().findFirst().orElse("");
    }

    /** Whether {@code start} is a job of {@code group}. */
    static boolean ofGroup(SparkListenerJobStart start, String group) {
        return start.properties() != null && group.equals(start.properties().getProperty("spark.jobGroup.id"));
    }

    /**
     * Returns "; task time T s: reading .., kernel .., ..., other .. (GC ..); CPU C s; deserialising
     * tasks D s": the tasks' run time, summed, taken apart (each phase's time on the clock, time
     * spent waiting for a core included), then their time on a processor. Other is Spark's own work
     * (reading the shuffle, committing) and time spent waiting for a core; garbage collection may
     * fall in any part. Deserialising a task comes before its run time, so it is given apart.
     */
    static String breakdown(TaskMetrics metrics, long[] phaseNanos) {
        double run = metrics.executorRunTime() / 1e3;
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "; task time %.3f s:", run));
        double accounted = 0;
        for (int p = 0; p < PHASES.length; p++) {
            if (phaseNanos[p] > 0 || p < 2) {
                line.append(String.format(Locale.ROOT, " %s %.3f,", PHASES[p], phaseNanos[p] / 1e9));
                accounted += phaseNanos[p] / 1e9;
            }
        }
        double shuffleWriting = metrics.shuffleWriteMetrics().writeTime() / 1e9;
        if (shuffleWriting > 0) {
            line.append(String.format(Locale.ROOT, " writing shuffle %.3f,", shuffleWriting));
            accounted += shuffleWriting;
        }
        return line.append(String.format(Locale.ROOT, " other %.3f (GC %.3f); CPU %.3f s; deserialising tasks %.3f s",
                run - accounted, metrics.jvmGCTime() / 1e3, metrics.executorCpuTime() / 1e9,
                metrics.executorDeserializeTime() / 1e3)).toString();
    }
}
