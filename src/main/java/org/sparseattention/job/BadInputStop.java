package org.sparseattention.job;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.ExceptionFailure;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
import org.sparseattention.errors.InvalidInputException;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Cancels the job when one of its tasks fails on bad input (a non-finite value, a file changed
 * since planning): a retry would read the same input and fail the same way, and a cluster
 * retries a task up to {@code spark.task.maxFailures} times, each redoing the task's work
 * before the bad row. Only the tasks of the job group {@code group}: a context may run others.
 */
final class BadInputStop extends SparkListener {
    private final SparkContext context;
    private final String group;
    private final Set<Integer> stages = ConcurrentHashMap.newKeySet();
    /** The first such task's message, once one failed. */
    volatile String message;

    BadInputStop(SparkContext context, String group) {
        this.context = context;
        this.group = group;
    }

    @Override
    public void onJobStart(SparkListenerJobStart start) {
        if (StageTimes.ofGroup(start, group)) {
            for (StageInfo stage : CollectionConverters.asJava(start.stageInfos())) {
                stages.add(stage.stageId());
            }
        }
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
        if (message == null && stages.contains(end.stageId()) && end.reason() instanceof ExceptionFailure failure) {
            String bad = badInput(failure);
            if (bad != null) {
                message = bad;
                // local and local[N] never retry a task: the job has failed already.
                if (!context.master().matches("local(\\[[^,\\]]*\\])?")) {
                    context.cancelJobGroupAndFutureJobs(group);
                }
            }
        }
    }

    /**
     * Returns the message of the {@link InvalidInputException} that failed a task, or null: the
     * task's own exception, or its cause (Spark's writer wraps what the last stage throws in a
     * {@code SparkException}), or, for an exception Spark could not send, its quoted trace.
     */
    private static String badInput(ExceptionFailure failure) {
        if (InvalidInputException.class.getName().equals(failure.className())) {
            return failure.description();
        }
        if (failure.exception().isDefined()) {
            for (Throwable t = failure.exception().get(); t != null; t = t.getCause()) {
                if (t instanceof InvalidInputException) {
                    return t.getMessage();
                }
            }
        }
        return JobFailures.messageOf(failure.fullStackTrace(), InvalidInputException.class);
    }
}

