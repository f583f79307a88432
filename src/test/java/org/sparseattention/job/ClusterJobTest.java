package org.sparseattention.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sparseattention.TestArrays.assertClose;
import static org.sparseattention.TestArrays.readNpy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.apache.spark.ExceptionFailure;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sparseattention.TestArrays;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;
import org.sparseattention.kernel.ReferenceAttention;
import org.sparseattention.plan.JobSettings;

/**
 * The job on separate executor JVMs ({@code local-cluster}): same bytes as local mode, and it
 * survives an executor that halts mid-task or is killed from outside.
 */
@Tag("cluster")
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ClusterJobTest {
    static final int H = 4;
    @TempDir
    static Path dir;
    static JavaSparkContext spark;
    static byte[] localOutput;
    static Path sparkDir;

    static JobSettings settings(Path out, boolean overwrite) {
        return JobTestSupport.settings(dir, out, H, "local+strided", 24, 16, 4, 64, overwrite);
    }

    @BeforeAll
    static void start() throws IOException {
        float[][] qkv = JobTestSupport.writeInputs(dir, 2, 300, H * 8, 77);
        JavaSparkContext local = JobTestSupport.localSpark("local[2]");
        try {
            SparseAttentionJob.execute(SparseAttentionJob.prepare(settings(dir.resolve("local"), false)), local, s -> { });
        } finally {
            local.stop();
        }
        localOutput = Files.readAllBytes(dir.resolve("local/output.npy"));
        // The bytes every cluster run is held to are themselves held to the float64 reference.
        JobSettings localSettings = settings(dir.resolve("local"), false);
        ReferenceAttention.Result reference = ReferenceAttention.compute(qkv[0], qkv[1], qkv[2], 2, 300, H, 8,
                localSettings.pattern(), localSettings.scaleFor(8));
        assertClose(reference.output(), readNpy(dir.resolve("local/output.npy")), 1e-5,
                "local+strided, local mode, vs float64 reference");
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        ProcessDirs.deleteLeftBehind(tmp, "sparse-attention-cluster-test-");
        sparkDir = ProcessDirs.create(tmp, "sparse-attention-cluster-test-");
        SparkConf conf = new SparkConf(false).setMaster("local-cluster[2,1,1024]").setAppName("sparse-attention-cluster-test")
                .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
                .set("spark.ui.enabled", "false").set("spark.ui.showConsoleProgress", "false")
                .set("spark.executor.extraClassPath", System.getProperty("java.class.path"))
                .set("spark.executor.extraJavaOptions", "--add-modules=jdk.incubator.vector")
                .set("spark.executorEnv.OMP_NUM_THREADS", "1")
                // The workers' directories for their executors, which stopping the cluster leaves
                // behind: outside the temporary directory, whose cleanup would fail on a file an
                // executor still writes as it is stopped.
                .set("spark.local.dir", sparkDir.toString());
        // Spark keeps the first local directories a JVM used (another test's context in this fork).
        org.apache.spark.util.Utils$.MODULE$.clearLocalRootDirs();
        spark = new JavaSparkContext(conf);
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            spark.stop();
        }
        org.apache.spark.util.Utils$.MODULE$.clearLocalRootDirs();
        if (sparkDir != null) {
            try {
                ProcessDirs.deleteTree(sparkDir);
            } catch (IOException e) {
                // Left to a later run's ProcessDirs.deleteLeftBehind: this process is gone by then.
            }
        }
    }

    @AfterEach
    void clearFault() {
        spark.setLocalProperty(FaultInjection.KEY, null);
    }

    private static void run(JobSettings settings) throws IOException {
        SparseAttentionJob.execute(SparseAttentionJob.prepare(settings), spark, s -> { });
    }

    @Test
    void separateExecutorsGiveTheBytesOfLocalMode() throws IOException {
        List<String> lines = new CopyOnWriteArrayList<>();
        SparseAttentionJob.execute(SparseAttentionJob.prepare(settings(dir.resolve("cluster"), false)), spark, lines::add);
        assertArrayEquals(localOutput, Files.readAllBytes(dir.resolve("cluster/output.npy")));
        // Two executors of one core each: the plan is made for their two slots, once they have registered.
        assertTrue(lines.stream().anyMatch(line -> line.startsWith("planning for 2 task slots on 2 executors")),
                String.join("\n", lines));
    }

    /** Runs {@code body} and returns how many tasks failed meanwhile (waiting up to 10 s for the listener's events). */
    private static int failedTasksDuring(Callable<?> body) throws Exception {
        return taskEndsDuring(end -> end.taskInfo().failed(), body);
    }

    /** Runs {@code body} and returns how many task ends {@code which} takes meanwhile (waiting up to 10 s for one). */
    private static int taskEndsDuring(Predicate<SparkListenerTaskEnd> which, Callable<?> body) throws Exception {
        AtomicInteger taken = new AtomicInteger();
        SparkListener listener = new SparkListener() {
            @Override
            public void onTaskEnd(SparkListenerTaskEnd end) {
                if (which.test(end)) {
                    taken.incrementAndGet();
                }
            }
        };
        spark.sc().addSparkListener(listener);
        try {
            body.call();
            // Listener events arrive asynchronously: give the bus a moment to deliver them.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (taken.get() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
        } finally {
            spark.sc().removeSparkListener(listener);
        }
        return taken.get();
    }

    @Test
    void executorThatHaltsMidTaskIsReplacedAndTheOutputIsTheSame() throws Exception {
        int failed = failedTasksDuring(() -> {
            spark.setLocalProperty(FaultInjection.KEY, "halt:1");
            run(settings(dir.resolve("halted"), false));
            return null;
        });
        assertTrue(failed >= 1, "no task failed: the executor never halted");
        assertArrayEquals(localOutput, Files.readAllBytes(dir.resolve("halted/output.npy")));
    }

    /** Its own waits add up to about 97 s: a longer limit than the class's, so theirs speak first. */
    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void executorKilledFromOutsideMidJobIsSurvived() throws Exception {
        String app = spark.sc().applicationId();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread job = new Thread(() -> {
            try {
                // Every task pauses 6 s: the kill 2 s in finds each executor running one.
                spark.setLocalProperty(FaultInjection.KEY, "pause:6000");
                run(settings(dir.resolve("killed"), false));
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        int failed = failedTasksDuring(() -> {
            job.start();
            Thread.sleep(2000);
            List<ProcessHandle> executors = List.of();
            for (int attempt = 0; attempt < 50 && executors.isEmpty(); attempt++) {
                executors = ProcessHandle.allProcesses()
                        .filter(p -> commandLine(p).contains("CoarseGrainedExecutorBackend") && commandLine(p).contains(app))
                        .toList();
                if (executors.isEmpty()) {
                    Thread.sleep(100);
                }
            }
            assertFalse(executors.isEmpty(), "no executor process of " + app);
            assertTrue(executors.get(0).destroyForcibly(), "SIGKILL sent");
            job.join(TimeUnit.SECONDS.toMillis(80));
            return null;
        });
        assertFalse(job.isAlive(), "the job did not end within 80 s of the kill");
        assertNull(failure.get(), () -> "job failed: " + failure.get());
        assertTrue(failed >= 1, "no task was lost with the killed executor: nothing was recovered");
        assertArrayEquals(localOutput, Files.readAllBytes(dir.resolve("killed/output.npy")));
    }

    /** Returns a process's command line from /proc (ProcessHandle may leave long ones out). */
    private static String commandLine(ProcessHandle process) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc", Long.toString(process.pid()), "cmdline")))
                    .replace('\0', ' ');
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    @Test
    void taskThatAlwaysFailsEndsTheJobNamingTheUnitAndWritesNothing() {
        spark.setLocalProperty(FaultInjection.KEY, "fail:2");
        Path out = dir.resolve("failed");
        SparseAttentionException e = assertThrows(SparseAttentionException.class, () -> run(settings(out, false)));
        assertTrue(e.getMessage().contains("unit 2 ("), e.getMessage());
        assertFalse(Files.exists(out), "no output directory, so no _SUCCESS and no output.npy");
        try (var entries = Files.list(dir)) {
            assertTrue(entries.noneMatch(p -> p.getFileName().toString().startsWith(".failed.staging")), "staging removed");
        } catch (IOException io) {
            throw new AssertionError(io);
        }
    }

    /**
     * Bad input fails the same way on every attempt: the job ends at the first, not after
     * spark.task.maxFailures attempts that would each redo the task's work before the bad row
     * (a second each here).
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"local+strided", "local"})
    void aTaskFailingOnBadInputEndsTheJobWithoutRetries(String mode, @TempDir Path bad) throws Exception {
        float[][] qkv = JobTestSupport.writeInputs(bad, 2, 300, H * 8, 77);
        qkv[1][(300 + 123) * H * 8 + 5] = Float.NaN;
        TestArrays.writeNpy(bad.resolve("k.npy"), new long[] {2, 300, H * 8}, qkv[1]);
        Path out = bad.resolve("out");
        AtomicReference<InvalidInputException> refused = new AtomicReference<>();
        List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
        spark.setLocalProperty(FaultInjection.KEY, "delay:1000");
        int failed = taskEndsDuring(end -> end.reason() instanceof ExceptionFailure failure
                && failure.toErrorString().contains(InvalidInputException.class.getName()), () -> {
            // local+strided: the residue-order stage reads the bad row first. local with blocks of
            // 10 rows, which never straddle the shards of 50: only the shard tasks compute, and
            // Spark's writer wraps their failures.
            refused.set(assertThrows(InvalidInputException.class, () -> SparseAttentionJob.execute(
                    SparseAttentionJob.prepare(JobTestSupport.settings(bad, out, H, mode, 24,
                            mode.equals("local") ? 10 : 16, 4, 64, false)), spark, lines::add)));
            // The caller learns of the end before the listener of every attempt's: let them arrive.
            Thread.sleep(2000);
            return null;
        });
        assertTrue(refused.get().getMessage().startsWith("--k ") && refused.get().getMessage().contains(
                "non-finite value NaN at batch 1, row 123, feature 5"), refused.get().getMessage());
        // spark.task.maxFailures is 4 here: the first attempt fails, and a retry Spark starts at once
        // is stopped in its delay, or fails too where the cancellation reaches it late.
        assertTrue(failed >= 1 && failed <= 2, "attempts failed on the bad input: " + failed);
        // The failed stage's line says why in Spark's stead (its reason speaks of the cancelled job group).
        assertTrue(lines.stream().anyMatch(line -> line.endsWith(", failed on bad input (named below)")), lines.toString());
        assertTrue(lines.stream().noneMatch(line -> line.contains("cancelled")), lines.toString());
        assertFalse(Files.exists(out), "nothing written");
    }

    /** An input the driver read but an executor cannot (a local path on a cluster): the error says where it was read. */
    @Test
    void anInputAnExecutorCannotReadIsNamedWithTheExecutor(@TempDir Path gone) throws Exception {
        JobTestSupport.writeInputs(gone, 2, 300, H * 8, 77);
        Path out = gone.resolve("out");
        SparseAttentionJob.Prepared prepared = SparseAttentionJob.prepare(JobTestSupport.settings(gone, out, H,
                "local+strided", 24, 16, 4, 64, false));
        Files.delete(gone.resolve("q.npy"));
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> SparseAttentionJob.execute(prepared, spark, s -> { }));
        assertTrue(e.getMessage().startsWith("--q ") && e.getMessage().contains("q.npy: no such file (read by a task on"
                + " executor ") && e.getMessage().contains("a local file must be at the same path on every executor's machine"),
                e.getMessage());
        assertFalse(Files.exists(out), "nothing written");
    }

    @Test
    void failedOverwriteLeavesThePreviousOutputIntact() throws IOException {
        Path out = dir.resolve("rerun");
        run(settings(out, false));
        byte[] before = Files.readAllBytes(out.resolve("output.npy"));
        spark.setLocalProperty(FaultInjection.KEY, "fail:1");
        assertThrows(SparseAttentionException.class, () -> run(settings(out, true)));
        assertArrayEquals(before, Files.readAllBytes(out.resolve("output.npy")));
        assertTrue(Files.exists(out.resolve("_SUCCESS")) && Files.exists(out.resolve("manifest.json")));
        spark.setLocalProperty(FaultInjection.KEY, null);
        run(settings(out, true));
        assertArrayEquals(localOutput, Files.readAllBytes(out.resolve("output.npy")));
    }
}
