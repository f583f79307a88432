package org.sparseattention.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.sparseattention.kernel.AttentionOutput;
import org.sparseattention.kernel.SparseForward;
import org.sparseattention.plan.InputShape;
import org.sparseattention.plan.JobSettings;
import org.sparseattention.plan.Planner;
import org.sparseattention.TestArrays;

/**
 * A standalone master and two workers started by {@code jobs/local-cluster}, the packaged
 * application jar submitted by {@code jobs/spark-submit} through Spark's SparkSubmit.
 */
@Tag("cluster")
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class StandaloneSubmitTest {
    static final String PORT = "7277";

    /**
     * Submits {@code run} of the inputs in {@code dir}, mode all, to --out {@code dir/name}, with
     * {@code spark} options before '--'; the log goes to {@code dir/name.log}. Returns the exit status.
     */
    private static int submitAll(Path dir, String name, String... spark) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("jobs/spark-submit", "--master", "spark://127.0.0.1:" + PORT));
        command.addAll(List.of(spark));
        command.addAll(List.of("--", "run", "--q", dir.resolve("q.npy").toString(), "--k", dir.resolve("k.npy").toString(),
                "--v", dir.resolve("v.npy").toString(), "--out", dir.resolve(name).toString(), "--heads", "2", "--mode",
                "all"));
        return script(dir.resolve(name + ".log"), command.toArray(String[]::new));
    }

    private static int script(Path log, String... command) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("bash"));
        args.addAll(List.of(command));
        Process process = new ProcessBuilder(args).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!process.waitFor(150, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " timed out; see " + log);
        }
        return process.exitValue();
    }

    @Test
    void submittedJobMatchesTheInProcessKernel(@TempDir Path dir) throws Exception {
        assertTrue(new File("target/sparse-attention-app.jar").isFile(), "run after mvn package");
        float[][] qkv = JobTestSupport.writeInputs(dir, 2, 150, 16, 9);
        Path out = dir.resolve("out");
        try {
            assertEquals(0, script(dir.resolve("start.log"), "jobs/local-cluster", "start", PORT, "2", "1", "1g"),
                    () -> read(dir.resolve("start.log")));
            // Executors of conf/spark-cluster.conf's 4g do not fit workers of 1g: an error, not a wait forever.
            int unfit = submitAll(dir, "unfit", "--conf", "spark.scheduler.maxRegisteredResourcesWaitingTime=3s");
            String unfitLog = read(dir.resolve("unfit.log"));
            assertEquals(1, unfit, unfitLog);
            assertTrue(unfitLog.contains("error: no executor registered with the master spark://127.0.0.1:" + PORT),
                    unfitLog);
            assertTrue(unfitLog.contains("spark.executor.memory=4g"), unfitLog);
            assertFalse(Files.exists(dir.resolve("unfit")));
            // Tasks of more cores than any executor has would wait forever: refused once executors register
            // (given 10 s to: on a busy machine an executor's JVM took more than 3).
            int wide = submitAll(dir, "wide", "--conf", "spark.executor.memory=700m", "--conf", "spark.task.cpus=2",
                    "--conf", "spark.scheduler.maxRegisteredResourcesWaitingTime=10s");
            String wideLog = read(dir.resolve("wide.log"));
            assertEquals(2, wide, wideLog);
            assertTrue(wideLog.contains("error: spark.task.cpus 2: more cores than any executor has (at most 1): no task"
                    + " could run"), wideLog);
            assertFalse(Files.exists(dir.resolve("wide")));
            // One core of the two: one executor with one task slot (Spark's default parallelism would say 2).
            int status = script(dir.resolve("submit.log"), "jobs/spark-submit", "--master", "spark://127.0.0.1:" + PORT,
                    "--conf", "spark.executor.memory=700m", "--conf", "spark.cores.max=1", "--", "run", "--q",
                    dir.resolve("q.npy").toString(),
                    "--k", dir.resolve("k.npy").toString(), "--v", dir.resolve("v.npy").toString(),
                    "--out", out.toString(), "--heads", "2", "--mode", "local+strided", "--local-ctx", "10",
                    "--block-size", "16", "--partitions", "4", "--merge");
            String log = read(dir.resolve("submit.log"));
            assertEquals(0, status, log);
            assertTrue(log.contains("done: 300 rows x 2 heads"), log);
            assertTrue(log.contains("planning for 1 task slot on 1 executor ("), log);
            // The cluster stopped while a job runs (its tasks paused): Spark would wait for it forever.
            Path stoppedLog = dir.resolve("stopped.log");
            Process stopped = new ProcessBuilder("bash", "jobs/spark-submit", "--master", "spark://127.0.0.1:" + PORT,
                    "--conf", "spark.executor.memory=700m", "--conf", "spark.sparseattention.noExecutorTimeout=3s",
                    "--conf", FaultInjection.KEY + "=pause:60000", "--", "run", "--q", dir.resolve("q.npy").toString(),
                    "--k", dir.resolve("k.npy").toString(), "--v", dir.resolve("v.npy").toString(), "--out",
                    dir.resolve("stopped").toString(), "--heads", "2", "--mode", "all")
                    .redirectErrorStream(true).redirectOutput(stoppedLog.toFile()).start();
            try {
                for (int wait = 0; wait < 600 && !read(stoppedLog).contains("planning for"); wait++) {
                    Thread.sleep(100);
                }
                Thread.sleep(2000);
                assertEquals(0, script(dir.resolve("stop.log"), "jobs/local-cluster", "stop", PORT));
                assertTrue(stopped.waitFor(60, TimeUnit.SECONDS), () -> "the job still waits: " + read(stoppedLog));
            } finally {
                // Whatever failed above, no driver is left behind.
                stopped.descendants().forEach(ProcessHandle::destroyForcibly);
                stopped.destroyForcibly();
            }
            String stoppedSaid = read(stoppedLog);
            assertEquals(1, stopped.exitValue(), stoppedSaid);
            assertTrue(stoppedSaid.contains("error: the job was stopped: no executor of the master spark://127.0.0.1:"
                    + PORT), stoppedSaid);
            try (var left = Files.list(dir)) {
                assertTrue(left.noneMatch(f -> f.getFileName().toString().contains("stopped.staging")), "staging deleted");
            }
            assertFalse(Files.exists(dir.resolve("stopped")));
        } finally {
            script(dir.resolve("stop.log"), "jobs/local-cluster", "stop", PORT);
        }
        JobSettings settings = JobTestSupport.settings(dir, out, 2, "local+strided", 10, 16, 4, 64, false);
        AttentionOutput expected = SparseForward.forward(qkv[0], qkv[1], qkv[2], 2,
                Planner.layout(settings, new InputShape(2, 150, 16, 2)), 8, settings.scaleFor(8), 64);
        assertArrayEquals(expected.output(), TestArrays.readNpy(out.resolve("output.npy")));
    }

    /** A master that is not running is named at once, rather than after Spark's minute of retries. */
    @Test
    void aMasterThatIsNotRunningIsNamedAtOnce(@TempDir Path dir) throws Exception {
        JobTestSupport.writeInputs(dir, 2, 150, 16, 5);
        int port;
        try (java.net.ServerSocket free = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            port = free.getLocalPort();
        }
        Path log = dir.resolve("down.log");
        int status = script(log, "jobs/spark-submit", "--master", "spark://127.0.0.1:" + port, "--", "run", "--q",
                dir.resolve("q.npy").toString(), "--k", dir.resolve("k.npy").toString(), "--v",
                dir.resolve("v.npy").toString(), "--out", dir.resolve("down").toString(), "--heads", "2", "--mode", "all");
        String said = read(log);
        assertEquals(1, status, said);
        assertTrue(said.contains("error: no Spark master answers at spark://127.0.0.1:" + port + " (127.0.0.1:" + port
                + ": Connection refused): start it"), said);
        assertFalse(Files.exists(dir.resolve("down")));
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }
}
