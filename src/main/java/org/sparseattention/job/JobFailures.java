package org.sparseattention.job;

import org.apache.spark.api.java.JavaSparkContext;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;
import org.sparseattention.plan.JobSettings;

/** What to tell the user of a job that failed: one line, in the project's words, naming what to change. */
public final class JobFailures {
    private JobFailures() {
    }

    /** Returns whether {@code e} comes from a job the scheduler ran: aborted on a stage's failure, or cancelled. */
    static boolean jobRan(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String message = String.valueOf(t.getMessage());
            if (t instanceof org.apache.spark.SparkException
                    && (message.startsWith("Job aborted") || message.contains(" cancelled"))) {
                return true;
            }
        }
        return false;
    }

    /**
     * Returns what to say of a job that failed on a full disk (an error anywhere in {@code e}, a
     * task's trace included, saying so), naming where it was writing, or null.
     */
    static String diskFull(Throwable e, OutputLocation location, JavaSparkContext spark) {
        return diskFull(e, location.staging().getParent().toString(),
                spark.getConf().get("spark.local.dir", System.getProperty("java.io.tmpdir")));
    }

    /** {@link #diskFull(Throwable, OutputLocation, JavaSparkContext)} with the two places named. */
    static String diskFull(Throwable e, String outDirectory, String localDirectories) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (String.valueOf(t.getMessage()).contains(StageTimes.NO_SPACE)) {
                return "no space left on a device the job wrote to: the output's directory " + outDirectory
                        + " (where --out goes) or Spark's local directories for the shuffle (spark.local.dir: "
                        + localDirectories + "); --out is as it was";
            }
        }
        return null;
    }

    /**
     * Returns {@code e} with the inputs named as they were given ({@code given}: "--q in/q.npy")
     * where its message names them as the tasks read them ({@code prepared}: fully qualified URIs,
     * "--q file:/home/me/in/q.npy"), as the errors found before Spark started name them.
     */
    public static RuntimeException asGiven(RuntimeException e, JobSettings given, JobSettings prepared) {
        if (!(e instanceof SparseAttentionException) || e.getMessage() == null) {
            return e;
        }
        String shown = e.getMessage().replace("--q " + prepared.q(), "--q " + given.q())
                .replace("--k " + prepared.k(), "--k " + given.k()).replace("--v " + prepared.v(), "--v " + given.v());
        if (shown.equals(e.getMessage())) {
            return e;
        }
        return e instanceof InvalidInputException ? new InvalidInputException(shown, e)
                : new SparseAttentionException(shown, e);
    }

    /** Turns a Spark failure into the project's exception, keeping the failed task's own message. */
    static RuntimeException translate(Exception e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof InvalidInputException invalid) {
                return new InvalidInputException(invalid.getMessage(), e);
            }
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            String invalid = messageOf(t, InvalidInputException.class);
            if (invalid != null) {
                return new InvalidInputException(invalid, e);
            }
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SparseAttentionException s) {
                return new SparseAttentionException(s.getMessage(), e);
            }
            String failed = messageOf(t, SparseAttentionException.class);
            if (failed != null) {
                return new SparseAttentionException(failed, e);
            }
        }
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        // One line: Spark's messages go on with "Driver stacktrace:" or an executor's quoted trace.
        return new SparseAttentionException("the job failed: " + firstLine(String.valueOf(e.getMessage()))
                + (root != e ? " (cause: " + firstLine(root.toString()) + ")" : ""), e);
    }

    private static String firstLine(String text) {
        return text.lines().findFirst().orElse("");
    }

    /** Returns the message of an exception of {@code type} quoted in {@code t}'s message (as Spark reports task failures). */
    private static String messageOf(Throwable t, Class<?> type) {
        return messageOf(t.getMessage(), type);
    }

    /** Returns the message of an exception of {@code type} quoted in {@code message} (a task's trace, say), or null. */
    static String messageOf(String message, Class<?> type) {
        String marker = type.getName() + ": ";
        int at = message == null ? -1 : message.indexOf(marker);
        if (at < 0) {
            return null;
        }
        String rest = message.substring(at + marker.length());
        int end = rest.indexOf('\n');
        return end < 0 ? rest : rest.substring(0, end);
    }
}
