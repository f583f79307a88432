package org.sparseattention.job;

import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Stops the job when a standalone cluster has had no executor for {@link #NO_EXECUTOR_TIMEOUT}
 * (default 60 s) while it runs: its workers stopped, and Spark would wait for them forever.
 * Only for standalone masters ({@code spark://}, {@code local-cluster[...]}) without dynamic
 * allocation: on YARN or Kubernetes, and under dynamic allocation, a while without executors is
 * part of recovering from their loss.
 */
final class ExecutorWatch extends Thread {
    /** How long a standalone cluster may be without executors before the job is stopped. */
    static final String NO_EXECUTOR_TIMEOUT = "spark.sparseattention.noExecutorTimeout";
    private final JavaSparkContext spark;
    private final String group;
    private final long waitNanos;
    /** Why the job was stopped, once it was. */
    volatile String message;

    private ExecutorWatch(JavaSparkContext spark, String group) {
        super("sparse-attention-executor-watch");
        setDaemon(true);
        this.spark = spark;
        this.group = group;
        // Saturating: a timeout of years is as good as none, not a negative one.
        this.waitNanos = TimeUnit.MILLISECONDS.toNanos(spark.getConf().getTimeAsMs(NO_EXECUTOR_TIMEOUT, "60s"));
    }

    /** Starts a watch of {@code spark}'s executors for the jobs of {@code group}, or returns null where none is kept. */
    static ExecutorWatch start(JavaSparkContext spark, String group) {
        String master = spark.master();
        if (!(master.startsWith("spark://") || master.startsWith("local-cluster["))
                || spark.getConf().getBoolean("spark.dynamicAllocation.enabled", false)) {
            return null;
        }
        ExecutorWatch watch = new ExecutorWatch(spark, group);
        watch.start();
        return watch;
    }

    @Override
    public void run() {
        long noneSince = -1;
        while (!isInterrupted() && !spark.sc().isStopped()) {
            // The status tracker lists the driver among the executors.
            boolean none = spark.sc().statusTracker().getExecutorInfos().length <= 1;
            long now = System.nanoTime();
            noneSince = none ? (noneSince < 0 ? now : noneSince) : -1;
            if (noneSince >= 0 && now - noneSince >= waitNanos) {
                message = String.format(Locale.ROOT, "the job was stopped: no executor of the master %s for %.1f s"
                        + " (its workers stopped?); raise %s to wait longer", spark.master(),
                        (now - noneSince) / 1e9, NO_EXECUTOR_TIMEOUT);
                spark.sc().cancelJobGroupAndFutureJobs(group);
                return;
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                return;
            }
        }
    }
}
