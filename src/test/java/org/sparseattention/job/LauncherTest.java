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
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.sparseattention.TestArrays;
import org.sparseattention.kernel.AttentionOutput;
import org.sparseattention.kernel.SparseForward;
import org.sparseattention.plan.InputShape;
import org.sparseattention.plan.JobSettings;
import org.sparseattention.plan.Planner;

/**
 * {@code jobs/sparse-attention}, the embedded launcher, with its class-data archive: made once by
 * the first command, mapped by the JVMs of the later ones, skipped when asked, and never left half
 * written or retried on every command when it cannot be made.
 */
@Tag("cluster")
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class LauncherTest {
    /** The text `-Xlog:class+load` gives a class mapped from the archive the launcher made. */
    private static final String FROM_ARCHIVE = "source: shared objects file (top)";

    private record Result(int status, String log) {
    }

    private static Result launch(Path log, Map<String, String> environment, String... command)
            throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("bash", "jobs/sparse-attention"));
        args.addAll(List.of(command));
        ProcessBuilder builder = new ProcessBuilder(args).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().putAll(environment);
        Process process = builder.start();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " timed out; see " + log);
        }
        return new Result(process.exitValue(), Files.readString(log));
    }

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(file -> file.getFileName().toString()).sorted().toList();
        }
    }

    private static String[] run(Path dir, Path out) {
        return new String[] {"run", "--q", dir.resolve("q.npy").toString(), "--k", dir.resolve("k.npy").toString(),
            "--v", dir.resolve("v.npy").toString(), "--out", out.toString(), "--heads", "2", "--mode",
            "local+strided", "--local-ctx", "10", "--block-size", "16", "--merge"};
    }

    /** A JVM out of memory says what to do before the JVM's own line and exit status 3, and writes no output. */
    @Test
    void aRunOutOfMemorySaysHowToRaiseTheHeap(@TempDir Path dir) throws Exception {
        JobTestSupport.writeInputs(dir, 2, 150, 16, 5);
        Path out = dir.resolve("out");
        Result result = launch(dir.resolve("oom.log"), Map.of("SPARSE_ATTENTION_CLASS_ARCHIVES", "off",
                "SPARSE_ATTENTION_JAVA_OPTS", "-Xmx600m -D" + FaultInjection.KEY + "=oom:0"), run(dir, out));
        assertEquals(3, result.status(), result.log());
        assertTrue(result.log().contains("error: out of memory (most often the JVM heap: sized by"
                + " SPARSE_ATTENTION_JAVA_OPTS), too small for this command: raise it with an -Xmx in"
                + " SPARSE_ATTENTION_JAVA_OPTS (-Xmx8g, say)"), result.log());
        assertTrue(result.log().contains("Terminating due to java.lang.OutOfMemoryError"), result.log());
        assertFalse(Files.exists(out), "no output");
    }

    /** JVM options of the environment keep the launcher's heap default unless they size the heap. */
    @Test
    void javaOptionsKeepTheDefaultHeapUnlessTheySizeIt(@TempDir Path dir) throws Exception {
        // Without the default, MaxRAM=64g would give the JVM's own default heap of 16 GiB.
        String[][] cases = {{"-Dspark.ui.enabled=false -XX:MaxRAM=64g", "4294967296"}, {"-Xmx1g", "1073741824"},
            {"-Xms6g", "17179869184"}, {"-XX:MaxRAM=64g -XX:MaxRAMPercentage=50", "34359738368"},
            // Options that name a heap size but do not bound the heap keep the default.
            {"-XX:SoftMaxHeapSize=1g -XX:InitialRAMPercentage=1", "4294967296"}};
        for (String[] c : cases) {
            Result result = launch(dir.resolve("heap.log"), Map.of("SPARSE_ATTENTION_CLASS_ARCHIVES", "off",
                    "SPARSE_ATTENTION_JAVA_OPTS", c[0] + " -XX:MaxRAM=64g -XX:+PrintFlagsFinal"), "--version");
            assertEquals(0, result.status(), c[0] + ": " + result.log());
            assertTrue(result.log().matches("(?s).*MaxHeapSize\\s+= " + c[1] + "\\s.*"), c[0] + ": heap " + c[1]);
        }
    }

    @Test
    void theFirstCommandMakesTheClassArchiveAndLaterJvmsMapIt(@TempDir Path dir) throws Exception {
        assertTrue(new File("target/classpath.txt").isFile(), "run after mvn package");
        float[][] qkv = JobTestSupport.writeInputs(dir, 2, 150, 16, 5);
        Path archives = dir.resolve("archives");
        Path classes = dir.resolve("classes.log");

        Result first = launch(dir.resolve("first.log"),
                Map.of("SPARSE_ATTENTION_CLASS_ARCHIVES", archives.toString(), "SPARSE_ATTENTION_JAVA_OPTS", "-Xmx1g"),
                run(dir, dir.resolve("out1")));
        assertEquals(0, first.status(), first.log());
        assertTrue(first.log().contains("preparing the class-data archive"), first.log());
        List<String> made = names(archives);
        assertEquals(1, made.size(), "one archive and nothing else: " + made);
        assertTrue(made.get(0).matches("class-archive-[0-9a-f]{16}\\.jsa"), made.get(0));
        Path archive = archives.resolve(made.get(0));
        long modified = Files.getLastModifiedTime(archive).toMillis();

        Result second = launch(dir.resolve("second.log"), Map.of("SPARSE_ATTENTION_CLASS_ARCHIVES", archives.toString(),
                "SPARSE_ATTENTION_JAVA_OPTS", "-Xmx1g -Xlog:class+load=info:file=" + classes), run(dir, dir.resolve("out2")));
        assertEquals(0, second.status(), second.log());
        assertFalse(second.log().contains("preparing the class-data archive"), second.log());
        // Into a file: the stage lines, named by what they run, and no progress bar's redraws.
        assertTrue(second.log().contains("stage 0 (shuffled units): ") && second.log().contains("stage 1 (shard tasks): "),
                second.log());
        assertFalse(second.log().contains("[Stage ") || second.log().contains("\r"), second.log());
        assertEquals(List.of(made.get(0)), names(archives));
        assertEquals(modified, Files.getLastModifiedTime(archive).toMillis(), "the archive was made again");
        List<String> loaded = Files.readAllLines(classes);
        assertTrue(loaded.stream().anyMatch(line -> line.contains("org.sparseattention.job.SparseAttentionJob ")
                && line.contains(FROM_ARCHIVE)), "the job's classes are not mapped from the archive");
        assertTrue(loaded.stream().filter(line -> line.contains(FROM_ARCHIVE)).count() > 1000,
                "Spark's classes are not mapped from the archive");

        Files.delete(classes);
        Result off = launch(dir.resolve("off.log"), Map.of("SPARSE_ATTENTION_CLASS_ARCHIVES", "off",
                "SPARSE_ATTENTION_JAVA_OPTS", "-Xmx1g -Xlog:class+load=info:file=" + classes), run(dir, dir.resolve("out3")));
        assertEquals(0, off.status(), off.log());
        assertTrue(Files.readAllLines(classes).stream().noneMatch(line -> line.contains(FROM_ARCHIVE)),
                "SPARSE_ATTENTION_CLASS_ARCHIVES=off still mapped an archive");

        JobSettings settings = JobTestSupport.settings(dir, dir.resolve("out1"), 2, "local+strided", 10, 16, 0, 64, false);
        AttentionOutput expected = SparseForward.forward(qkv[0], qkv[1], qkv[2], 2,
                Planner.layout(settings, new InputShape(2, 150, 16, 2)), 8, settings.scaleFor(8), 64);
        for (String out : List.of("out1", "out2", "out3")) {
            assertArrayEquals(expected.output(), TestArrays.readNpy(dir.resolve(out).resolve("output.npy")), out);
        }
    }

    /**
     * SIGTERM at any moment of a run gives exit status 143 and one line saying what became of --out,
     * never a stack trace of what stopped under it (Spark starting, a context stopping half-way);
     * a run that finished first exits 0.
     */
    @Test
    void aRunStoppedBySigtermSaysSoInOneLine(@TempDir Path dir) throws Exception {
        JobTestSupport.writeInputs(dir, 2, 150, 16, 5);
        int stopped = 0;
        // Counted from the plan's line: the JVM's own first moments (before its hooks exist) end with
        // its exit status alone, and a loaded machine would make a fixed delay land there.
        for (long delay : new long[] {0, 300, 1000}) {
            Path log = dir.resolve("run-" + delay + ".log");
            List<String> args = new ArrayList<>(List.of("bash", "jobs/sparse-attention"));
            args.addAll(List.of(run(dir, dir.resolve("out-" + delay))));
            ProcessBuilder builder = new ProcessBuilder(args).redirectErrorStream(true).redirectOutput(log.toFile());
            builder.environment().put("SPARSE_ATTENTION_CLASS_ARCHIVES", "off");
            Process process = builder.start();
            for (int i = 0; i < 600 && process.isAlive() && !Files.readString(log).contains("plan: "); i++) {
                Thread.sleep(50);
            }
            Thread.sleep(delay);
            // The launcher has become the JVM (exec): its pid is the JVM's.
            process.destroy();
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "no exit after SIGTERM; see " + log);
            String said = Files.readString(log);
            List<String> interrupted = said.lines().filter(line -> line.startsWith("interrupted")).toList();
            if (process.exitValue() == 0) {
                assertTrue(said.contains("done: ") && interrupted.isEmpty(), said);
                continue;
            }
            stopped++;
            assertEquals(143, process.exitValue(), said);
            assertEquals(1, interrupted.size(), said);
            assertFalse(said.contains("\tat ") || said.contains("Exception") || said.contains("error:"), said);
        }
        assertTrue(stopped > 0, "every run finished before its SIGTERM: none was stopped");
    }

    @Test
    void anArchiveThatCannotBeMadeIsReportedOnceAndTheCommandRunsWithoutIt(@TempDir Path dir) throws Exception {
        assertTrue(new File("target/classpath.txt").isFile(), "run after mvn package");
        // A `java` first on the PATH that fails where the JVM would write the archive.
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path java = bin.resolve("java");
        Files.writeString(java, "#!/usr/bin/env bash\n"
                + "for a in \"$@\"; do [[ $a == -XX:ArchiveClassesAtExit=* ]] && { echo 'no room to archive'; exit 3; }; done\n"
                + "exec '" + Path.of(System.getProperty("java.home"), "bin", "java") + "' \"$@\"\n");
        assertTrue(java.toFile().setExecutable(true));
        Path archives = dir.resolve("archives");
        Map<String, String> environment = Map.of("PATH", bin + File.pathSeparator + System.getenv("PATH"),
                "SPARSE_ATTENTION_CLASS_ARCHIVES", archives.toString(), "SPARSE_ATTENTION_JAVA_OPTS", "-Xmx512m");
        String[] layout = {"layout", "--seq-len", "64", "--heads", "1", "--mode", "local", "--local-ctx", "16",
            "--block-size", "16"};

        Result first = launch(dir.resolve("first.log"), environment, layout);
        assertEquals(0, first.status(), first.log());
        assertTrue(first.log().contains("could not prepare the class-data archive"), first.log());
        assertTrue(first.log().contains("no room to archive"), first.log());
        assertTrue(first.log().contains("head 0: 7 of 16 blocks hold allowed pairs"), first.log());
        List<String> left = names(archives);
        assertEquals(1, left.size(), "only the marker: " + left);
        assertTrue(left.get(0).matches("class-archive-[0-9a-f]{16}\\.jsa\\.failed"), left.get(0));

        Result second = launch(dir.resolve("second.log"), environment, layout);
        assertEquals(0, second.status(), second.log());
        assertFalse(second.log().contains("class-data archive"), second.log());
        assertEquals(left, names(archives));
    }
}
