package org.sparseattention.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * A job that failed on a full disk says so in one line, naming where it wrote, whichever layer
 * reported it; any other failure is said in one line too.
 */
class DiskFullTest {
    private static final String SAID = "no space left on a device the job wrote to: the output's directory"
            + " file:/data/runs (where --out goes) or Spark's local directories for the shuffle (spark.local.dir:"
            + " /tmp); --out is as it was";

    @Test
    void aFullDiskIsNamedWhereverItIsReported() {
        // As the driver hears of a task's failure: the executor's trace quoted in Spark's message.
        RuntimeException aborted = new RuntimeException("Job aborted due to stage failure: Task 0 in stage 1.0"
                + " failed 1 times, most recent failure: Lost task 0.0: java.io.IOException: No space left on device\n"
                + "\tat java.base/java.io.FileOutputStream.writeBytes(Native Method)");
        assertEquals(SAID, JobFailures.diskFull(aborted, "file:/data/runs", "/tmp"));
        // As a cause in the driver itself (merging files, say).
        RuntimeException wrapped = new RuntimeException("the job failed", new IOException("No space left on device"));
        assertEquals(SAID, JobFailures.diskFull(wrapped, "file:/data/runs", "/tmp"));
        assertNull(JobFailures.diskFull(new RuntimeException("Job aborted", new IOException("Stream closed")),
                "file:/data/runs", "/tmp"));
    }

    /** Any other failure is one line too: Spark's "Driver stacktrace:" and quoted traces are left out. */
    @Test
    void anyOtherFailureIsOneLine() {
        RuntimeException lost = new RuntimeException("Job aborted due to stage failure: Task 1 in stage 0.0 failed 4"
                + " times, most recent failure: Lost task 1.3 (executor 2): ExecutorLostFailure (executor 2 exited"
                + " caused by one of the running tasks) Reason: Command exited with code 137\nDriver stacktrace:",
                new IllegalStateException("first line\n\tat some.Frame(Frame.java:1)"));
        assertEquals("the job failed: Job aborted due to stage failure: Task 1 in stage 0.0 failed 4 times, most recent"
                + " failure: Lost task 1.3 (executor 2): ExecutorLostFailure (executor 2 exited caused by one of the"
                + " running tasks) Reason: Command exited with code 137 (cause: java.lang.IllegalStateException: first"
                + " line)", JobFailures.translate(lost).getMessage());
    }
}
