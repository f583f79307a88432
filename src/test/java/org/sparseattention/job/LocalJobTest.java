package org.sparseattention.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sparseattention.TestArrays.assertClose;
import static org.sparseattention.TestArrays.readNpy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.spark.SparkConf;
import org.apache.spark.Success$;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.executor.ExecutorMetrics;
import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.scheduler.TaskInfo;
import org.apache.spark.scheduler.TaskLocality;
import org.apache.spark.scheduler.TaskLocation;
import org.apache.spark.storage.RDDInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.kernel.AttentionOutput;
import org.sparseattention.kernel.ReferenceAttention;
import org.sparseattention.kernel.SparseForward;
import org.sparseattention.plan.InputShape;
import org.sparseattention.plan.JobSettings;
import org.sparseattention.plan.Plan;
import org.sparseattention.plan.Planner;
import org.sparseattention.plan.WorkUnit;
import scala.Option;
import scala.jdk.javaapi.CollectionConverters;

/** The job in local mode against the in-process kernel and the float64 reference. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class LocalJobTest {
    static final int B = 2;
    static final int L = 100;
    static final int H = 2;
    static final int D = 8;
    static JavaSparkContext spark;
    @TempDir
    static Path inputs;
    static float[][] qkv;

    @BeforeAll
    static void start() throws IOException {
        spark = JobTestSupport.localSpark("local[2]");
        qkv = JobTestSupport.writeInputs(inputs, B, L, H * D, 41);
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static RunSummary run(JobSettings settings) throws IOException {
        return SparseAttentionJob.execute(SparseAttentionJob.prepare(settings), spark, line -> { });
    }

    /** {@code fixed+strided}: its residue frame lists no tile whose every pair {@code fixed} already computes (10 of 22 here). */
    @ParameterizedTest
    @ValueSource(strings = {"all", "local", "strided", "fixed", "local+strided", "local,strided", "fixed,strided+local",
        "fixed+strided"})
    void jobEqualsKernelAndReference(String mode, @TempDir Path out) throws IOException {
        int context = mode.contains("fixed") ? 32 : 12;
        // fixed: num_verts 2, so that its heads read different summary columns.
        JobSettings settings = JobTestSupport.settings(inputs, out.resolve("result"), H, mode, context, 16,
                mode.contains("fixed") ? 2 : 1, 3, 64, false);
        RunSummary summary = run(settings);
        float[] output = readNpy(out.resolve("result/output.npy"));
        float[] lse = readNpy(out.resolve("result/lse.npy"));
        InputShape shape = new InputShape(B, L, H * D, H);
        AttentionOutput inProcess = SparseForward.forward(qkv[0], qkv[1], qkv[2], B, Planner.layout(settings, shape), D,
                settings.scaleFor(D), settings.maxKeyBlocks());
        assertArrayEquals(inProcess.output(), output, mode + ": job and in-process kernel differ");
        assertArrayEquals(inProcess.logSumExp(), lse, mode + ": log-sum-exp differs");
        ReferenceAttention.Result reference = ReferenceAttention.compute(qkv[0], qkv[1], qkv[2], B, L, H, D,
                settings.pattern(), settings.scaleFor(D));
        assertClose(reference.output(), output, 1e-5, mode + " vs float64 reference");
        assertClose(reference.logSumExp(), lse, 1e-5, mode + " log-sum-exp vs float64 reference");
        long expectedPairs = Planner.layout(settings, shape).stats().totalAllowedPairs() * B;
        assertEquals(4.0 * D * expectedPairs / 1e9, summary.usefulGflop(), 1e-12, "useful work counted once");
        assertTrue(Files.exists(out.resolve("result/_SUCCESS")));
        com.fasterxml.jackson.databind.JsonNode manifest = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(out.resolve("result/manifest.json").toFile());
        assertEquals(org.sparseattention.SparseAttention.VERSION, manifest.get("tool").asText());
        assertEquals(settings.shardRows(), manifest.get("shard_rows").asInt());
        assertFalse(manifest.get("allow_nonfinite").asBoolean());
    }

    /**
     * {@code fixed} with one block per window allows every earlier key: its union's residue frame
     * holds no tile, the plan no unit of it, and the job gives the in-process bits and the reference.
     */
    @Test
    void aFrameWithNothingLeftToComputeHasNoUnits(@TempDir Path out) throws IOException {
        JobSettings settings = JobTestSupport.settings(inputs, out.resolve("result"), H, "fixed+strided", 16, 16, 1, 3,
                64, false);
        InputShape shape = new InputShape(B, L, H * D, H);
        assertEquals(2, Planner.layout(settings, shape).frameCount());
        Plan plan = Planner.plan(settings, shape, 2);
        assertTrue(plan.units().stream().noneMatch(unit -> unit.frame() == 1), plan.units().toString());
        assertEquals(0, plan.figures().mergedRows(), "each row has one unit's results");
        run(settings);
        float[] output = readNpy(out.resolve("result/output.npy"));
        AttentionOutput inProcess = SparseForward.forward(qkv[0], qkv[1], qkv[2], B, Planner.layout(settings, shape), D,
                settings.scaleFor(D), settings.maxKeyBlocks());
        assertArrayEquals(inProcess.output(), output);
        assertArrayEquals(inProcess.logSumExp(), readNpy(out.resolve("result/lse.npy")));
        ReferenceAttention.Result reference = ReferenceAttention.compute(qkv[0], qkv[1], qkv[2], B, L, H, D,
                settings.pattern(), settings.scaleFor(D));
        assertClose(reference.output(), output, 1e-5, "fixed+strided, one block per window, vs float64 reference");
    }

    /**
     * Blocks of 56 rows (a padded width of 64 query columns, where the output product sums keys in
     * panels): the job's units, packed or in place, give the in-process kernel's bits.
     */
    @ParameterizedTest
    @ValueSource(strings = {"fixed", "all", "local+strided"})
    void blocksNarrowerThanThePanelGiveTheInProcessBits(String mode, @TempDir Path out) throws IOException {
        int length = 1500;
        Path in = out.resolve("in");
        Files.createDirectories(in);
        float[][] data = JobTestSupport.writeInputs(in, 1, length, H * D, 43);
        JobSettings settings = new JobSettings(in.resolve("q.npy").toString(), in.resolve("k.npy").toString(),
                in.resolve("v.npy").toString(), out.resolve("result").toString(), H, mode, 224, 56, 2, 1, Double.NaN, 3,
                8, 64, 500, true, true, false, false);
        run(settings);
        InputShape shape = new InputShape(1, length, H * D, H);
        AttentionOutput inProcess = SparseForward.forward(data[0], data[1], data[2], 1, Planner.layout(settings, shape),
                D, settings.scaleFor(D), settings.maxKeyBlocks());
        assertArrayEquals(inProcess.output(), readNpy(out.resolve("result/output.npy")), mode + ": output");
        assertArrayEquals(inProcess.logSumExp(), readNpy(out.resolve("result/lse.npy")), mode + ": log-sum-exp");
        ReferenceAttention.Result reference = ReferenceAttention.compute(data[0], data[1], data[2], 1, length, H, D,
                settings.pattern(), settings.scaleFor(D));
        assertClose(reference.output(), inProcess.output(), 1e-5, mode + " vs float64 reference");
    }

    /** --overwrite of an output that cannot be deleted once moved aside: the run succeeds and says where it is. */
    @Test
    void aPreviousOutputThatCannotBeDeletedIsNamedInAWarning(@TempDir Path out) throws IOException {
        spark.hadoopConfiguration().set("fs.undeletable.impl", UndeletableAsideFileSystem.class.getName());
        spark.hadoopConfiguration().setBoolean("fs.undeletable.impl.disable.cache", true);
        SparkConf launcher = new SparkConf(false)
                .set("spark.hadoop.fs.undeletable.impl", UndeletableAsideFileSystem.class.getName())
                .set("spark.hadoop.fs.undeletable.impl.disable.cache", "true");
        List<String> lines = new ArrayList<>();
        for (boolean overwrite : new boolean[] {false, true}) {
            JobSettings settings = JobTestSupport.settings(inputs, out, H, "local", 12, 16, 3, 64, overwrite);
            settings = settings.withLocations(settings.q(), settings.k(), settings.v(),
                    "undeletable://" + out.resolve("result").toUri().getPath());
            SparseAttentionJob.execute(SparseAttentionJob.prepare(settings, launcher), spark, lines::add);
        }
        List<Path> asides;
        try (java.util.stream.Stream<Path> files = Files.list(out)) {
            asides = files.filter(f -> f.getFileName().toString().startsWith(".result.replaced-")).toList();
        }
        assertEquals(1, asides.size(), "the previous output, kept where it was moved");
        assertTrue(lines.contains("warning: the new output is in place, but the previous one could not be deleted"
                + " entirely: what is left of it is in undeletable:" + asides.get(0) + " (remove it yourself)"),
                String.join("\n", lines));
        assertTrue(Files.exists(out.resolve("result/_SUCCESS")));
    }

    @Test
    void splitRowsAreMergedExactly(@TempDir Path out) throws IOException {
        JobSettings settings = JobTestSupport.settings(inputs, out.resolve("split"), H, "all", 0, 8, 3, 2, false);
        run(settings);
        ReferenceAttention.Result reference = ReferenceAttention.compute(qkv[0], qkv[1], qkv[2], B, L, H, D,
                settings.pattern(), settings.scaleFor(D));
        assertTrue(Planner.plan(settings, new InputShape(B, L, H * D, H), 2).figures().mergedRows() > 0,
                "the chunk setting must split rows");
        assertClose(reference.output(), readNpy(out.resolve("split/output.npy")), 1e-5, "all, split rows");
    }

    @ParameterizedTest
    @ValueSource(strings = {"local+strided", "all"})
    void unitsComputedInPlaceGiveTheBytesOfShuffledUnits(String mode, @TempDir Path out) throws IOException {
        InputShape shape = new InputShape(B, L, H * D, H);
        byte[][] outputs = new byte[2][];
        // 100 rows per shard: 2 shards on 2 slots, all shuffled; 25: 8 shards, most units in place.
        int[] shardRows = {100, 25};
        for (int i = 0; i < 2; i++) {
            Path dir = out.resolve("s" + shardRows[i]);
            JobSettings settings = new JobSettings(inputs.resolve("q.npy").toString(),
                    inputs.resolve("k.npy").toString(), inputs.resolve("v.npy").toString(), dir.toString(), H, mode, 12,
                    16, 1, 1, Double.NaN, 0, 2, 64, shardRows[i], true, true, false, false);
            int inPlace = Planner.plan(settings, shape, spark.defaultParallelism()).figures().inPlaceUnits();
            assertEquals(i == 0, inPlace == 0, shardRows[i] + " rows per shard: " + inPlace + " units in place");
            run(settings);
            outputs[i] = Files.readAllBytes(dir.resolve("output.npy"));
        }
        assertArrayEquals(outputs[0], outputs[1], mode + ": in place and shuffled");
    }

    /**
     * Pieces the shuffle spills to disk (here after every one) reach the shard tasks merged back in
     * order: the bytes of pieces kept in memory.
     */
    @Test
    void piecesTheShuffleSpillsGiveTheBytesOfPiecesKeptInMemory(@TempDir Path out) throws Exception {
        byte[][] outputs = new byte[2][];
        long[] spilled = new long[2];
        String force = "spark.shuffle.spill.numElementsForceSpillThreshold";
        SparkConf env = org.apache.spark.SparkEnv.get().conf();
        for (int i = 0; i < 2; i++) {
            Path dir = out.resolve("run" + i);
            // 100 rows per shard: 2 shards on 2 slots, every unit shuffled; rows in chunks of 2 key blocks.
            JobSettings settings = new JobSettings(inputs.resolve("q.npy").toString(),
                    inputs.resolve("k.npy").toString(), inputs.resolve("v.npy").toString(), dir.toString(), H,
                    "local+strided", 40, 16, 1, 1, Double.NaN, 0, 2, 64, 100, true, true, false, false);
            java.util.concurrent.atomic.LongAdder bytes = new java.util.concurrent.atomic.LongAdder();
            org.apache.spark.scheduler.SparkListener listener = new org.apache.spark.scheduler.SparkListener() {
                @Override
                public void onTaskEnd(SparkListenerTaskEnd end) {
                    // The shard tasks' own: what their sorted input spilled, not the units' map side.
                    if (end.taskMetrics() != null && end.taskType().equals("ResultTask")) {
                        bytes.add(end.taskMetrics().diskBytesSpilled());
                    }
                }
            };
            spark.sc().addSparkListener(listener);
            if (i == 1) {
                env.set(force, "1");
            }
            try {
                run(settings);
            } finally {
                env.remove(force);
                spark.sc().listenerBus().waitUntilEmpty();
                spark.sc().removeSparkListener(listener);
            }
            outputs[i] = Files.readAllBytes(dir.resolve("output.npy"));
            spilled[i] = bytes.sum();
        }
        assertEquals(0, spilled[0], "kept in memory");
        assertTrue(spilled[1] > 0, "spilled by the shard tasks: " + spilled[1]);
        assertArrayEquals(outputs[0], outputs[1]);
    }

    @Test
    void outputBytesDoNotDependOnPartitions(@TempDir Path out) throws IOException {
        byte[] first = null;
        for (int partitions : new int[] {1, 3, 7}) {
            Path dir = out.resolve("p" + partitions);
            run(JobTestSupport.settings(inputs, dir, H, "local+strided", 10, 16, partitions, 3, false));
            byte[] bytes = Files.readAllBytes(dir.resolve("output.npy"));
            if (first == null) {
                first = bytes;
            } else {
                assertArrayEquals(first, bytes, "output.npy with " + partitions + " partitions");
            }
        }
    }

    @Test
    void existingOutputIsRefusedUnlessOverwriteAndThenReplaced(@TempDir Path out) throws IOException {
        Path dir = out.resolve("twice");
        run(JobTestSupport.settings(inputs, dir, H, "local", 8, 16, 2, 64, false));
        byte[] before = Files.readAllBytes(dir.resolve("output.npy"));
        InvalidInputException refused = assertThrows(InvalidInputException.class,
                () -> run(JobTestSupport.settings(inputs, dir, H, "all", 8, 16, 2, 64, false)));
        assertTrue(refused.getMessage().contains("--overwrite"), refused.getMessage());
        assertArrayEquals(before, Files.readAllBytes(dir.resolve("output.npy")), "refused run left the output alone");

        run(JobTestSupport.settings(inputs, dir, H, "all", 8, 16, 2, 64, true));
        byte[] after = Files.readAllBytes(dir.resolve("output.npy"));
        assertFalse(java.util.Arrays.equals(before, after), "overwrite replaced the output");
        try (var siblings = Files.list(out)) {
            assertEquals(1, siblings.count(), "no staging or backup directory left behind");
        }
    }

    @Test
    void outputInsideAnInputDirectoryIsRefused() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> SparseAttentionJob.prepare(
                JobTestSupport.settings(inputs, inputs.resolve("q.npy").resolve("out"), H, "all", 0, 16, 2, 64, true)));
        assertTrue(e.getMessage().contains("overlaps"), e.getMessage());
        assertThrows(InvalidInputException.class, () -> SparseAttentionJob.prepare(
                JobTestSupport.settings(inputs, inputs, H, "all", 0, 16, 2, 64, true)));
    }

    @Test
    void everyStageLineSaysWhereItsTasksTimeWent(@TempDir Path dir) throws IOException {
        // Large enough that the kernel takes milliseconds: 4096 rows, 4 heads of 64, l=256.
        Path in = dir.resolve("in");
        Files.createDirectories(in);
        JobTestSupport.writeInputs(in, 1, 4096, 256, 5);
        JobSettings settings = new JobSettings(in.resolve("q.npy").toString(), in.resolve("k.npy").toString(),
                in.resolve("v.npy").toString(), dir.resolve("out").toString(), 4, "local+strided", 256, 64, 1, 1,
                Double.NaN, 0, 64, 256, 1024, false, false, false, false);
        List<String> lines = new CopyOnWriteArrayList<>();
        SparseAttentionJob.execute(SparseAttentionJob.prepare(settings), spark, lines::add);
        List<String> stages = lines.stream().filter(line -> line.startsWith("stage ")).toList();
        assertEquals(2, stages.size(), "a residue-order stage and a shard stage, printed before returning: " + lines);
        double kernel = 0;
        // A phase with no time in a stage is left out of its line, apart from reading and the kernel.
        for (String stage : stages) {
            double taskTime = number(stage, "task time ");
            for (String phase : new String[] {"reading", "kernel", "merging", "cutting", "writing output"}) {
                Matcher m = Pattern.compile(" " + phase + " ([0-9.]+),").matcher(stage);
                boolean found = m.find();
                assertTrue(found || !(phase.equals("reading") || phase.equals("kernel")), phase + " in " + stage);
                if (found) {
                    double seconds = Double.parseDouble(m.group(1));
                    assertTrue(seconds <= taskTime + 0.002, phase + " within the task time: " + stage);
                }
            }
            kernel += number(stage, " kernel ");
            assertTrue(number(stage, " other ") >= -0.01, "the phases do not add up to more than the tasks ran: "
                    + stage);
        }
        assertTrue(kernel > 0, "the kernel's time reaches the stage lines: " + stages);
        assertTrue(stages.get(0).contains(" cutting ") && stages.get(1).contains(" merging ")
                && stages.get(1).contains(" writing output "),
                "residue-order tasks cut pieces, shard tasks merge them and write the output: " + stages);
    }

    @Test
    void stageLinesCountTheInputRowsThePlanSaysTheTasksRead(@TempDir Path out) throws IOException {
        // local, l=40, blocks of 16, at most 2 key blocks per unit: query blocks with 3 or 4 key
        // blocks are split into chunks, which a shard task computes in merge order (all first
        // chunks, then the second ones), and consecutive units share key rows.
        JobSettings settings = JobTestSupport.settings(inputs, out.resolve("result"), H, "local", 40, 16, 0, 2, false);
        InputShape shape = new InputShape(B, L, H * D, H);
        Plan plan = Planner.plan(settings, shape, spark.defaultParallelism());
        assertTrue(plan.inPlace().stream().flatMap(List::stream).anyMatch(WorkUnit::isSplit),
                "split units computed in place");
        assertStagesReadWhatThePlanCounts(settings, plan, shape);
    }

    @Test
    void partitionsReadTheRowsThePlanCountsInMergeOrder(@TempDir Path out) throws IOException {
        // all, blocks of 16, 2 key blocks per chunk, one shard per batch item: every unit goes to
        // the one partition. Its ranges of 2, 3 and 4 chunks (blocks 2-3, 4-5, 6) share key rows
        // chunk by chunk: chunk 0 is key blocks 0 and 1 for each, chunk 1 blocks 2 and 3.
        JobSettings settings = new JobSettings(inputs.resolve("q.npy").toString(), inputs.resolve("k.npy").toString(),
                inputs.resolve("v.npy").toString(), out.resolve("result").toString(), H, "all", 0, 16, 1, 1, Double.NaN,
                1, 2, 64, L, true, true, false, false);
        InputShape shape = new InputShape(B, L, H * D, H);
        Plan plan = Planner.plan(settings, shape, spark.defaultParallelism());
        assertEquals(List.of(plan.units()), plan.partitions(), "one partition of every unit");
        List<WorkUnit> listed = plan.partitions().get(0);
        assertTrue(Planner.rowsRead(Planner.layout(settings, shape), Planner.inTaskOrder(listed))
                < Planner.rowsRead(Planner.layout(settings, shape), listed), "merge order reads fewer rows");
        assertStagesReadWhatThePlanCounts(settings, plan, shape);
    }

    private static void assertStagesReadWhatThePlanCounts(JobSettings settings, Plan plan, InputShape shape)
            throws IOException {
        long unitByUnit = 0;
        for (WorkUnit unit : plan.units()) {
            unitByUnit += Planner.rowsRead(Planner.layout(settings, shape), List.of(unit));
        }
        assertTrue(plan.figures().rowsRead() < unitByUnit, "some rows are kept: " + plan.figures().describe());
        List<String> lines = new CopyOnWriteArrayList<>();
        SparseAttentionJob.execute(SparseAttentionJob.prepare(settings), spark, lines::add);
        String planLine = lines.stream().filter(line -> line.startsWith("plan: ")).findFirst().orElseThrow();
        long read = 0;
        for (String stage : lines.stream().filter(line -> line.startsWith("stage ")).toList()) {
            read += (long) number(stage, "input rows read ");
        }
        assertEquals(plan.figures().rowsRead(), (long) number(planLine, "rows read "), planLine);
        assertEquals(plan.figures().rowsRead(), read, "rows the tasks read, against the plan: " + lines);
    }

    /**
     * Under a default locale with other digits and a decimal comma, the console's figures and the
     * output's file names are still those of the root locale, which scripts parse and every
     * executor must agree on.
     */
    @Test
    void consoleFiguresAndFileNamesDoNotDependOnTheLocale(@TempDir Path out) throws IOException {
        Locale before = Locale.getDefault();
        List<String> lines = new CopyOnWriteArrayList<>();
        try {
            Locale.setDefault(Locale.forLanguageTag("ar-EG"));
            JobSettings settings = JobTestSupport.settings(inputs, out.resolve("result"), H, "local+strided", 9, 16, 0,
                    64, false);
            lines.add(SparseAttentionJob.execute(SparseAttentionJob.prepare(settings), spark, lines::add).describe());
        } finally {
            Locale.setDefault(before);
        }
        assertFalse(lines.isEmpty());
        for (String line : lines) {
            assertTrue(line.chars().allMatch(c -> c < 128), "ASCII only: " + line);
        }
        String done = lines.stream().filter(line -> line.startsWith("done: ")).findFirst().orElseThrow();
        assertTrue(Pattern.compile(" in [0-9]+\\.[0-9]{2} s = ").matcher(done).find(), done);
        try (Stream<Path> files = Files.list(out.resolve("result"))) {
            List<String> names = files.map(f -> f.getFileName().toString()).toList();
            assertTrue(names.stream().anyMatch(n -> n.matches("output-b[0-9]{5}-r[0-9]{10}\\.npy")), names.toString());
            assertTrue(names.stream().allMatch(n -> n.chars().allMatch(c -> c < 128)), names.toString());
        }
    }

    /** Only the run's own job ends the wait for its stage lines: another job on a shared context does not. */
    @Test
    void onlyTheRunsJobGroupEndsTheWaitForItsStageLines() {
        StageTimes stageTimes = new StageTimes(line -> { }, TaskTimes.register(spark.sc()), () -> false, "run-group");
        stageTimes.onJobStart(jobStart(1, "another-group"));
        stageTimes.onJobEnd(new org.apache.spark.scheduler.SparkListenerJobEnd(1, 0L,
                org.apache.spark.scheduler.JobSucceeded$.MODULE$));
        assertFalse(stageTimes.jobEnded(), "another group's job");
        stageTimes.onJobStart(jobStart(2, "run-group"));
        stageTimes.onJobEnd(new org.apache.spark.scheduler.SparkListenerJobEnd(2, 0L,
                org.apache.spark.scheduler.JobSucceeded$.MODULE$));
        assertTrue(stageTimes.jobEnded());
    }

    private static org.apache.spark.scheduler.SparkListenerJobStart jobStart(int job, String group) {
        java.util.Properties properties = new java.util.Properties();
        properties.setProperty("spark.jobGroup.id", group);
        return new org.apache.spark.scheduler.SparkListenerJobStart(job, 0L, scala.jdk.javaapi.CollectionConverters
                .asScala(List.<org.apache.spark.scheduler.StageInfo>of()).toSeq(), properties);
    }

    /** A stage that ran again is reported with its own attempt's tasks, not with those of both attempts. */
    @Test
    void stageAttemptsAreCountedApart() {
        TaskTimes times = TaskTimes.register(spark.sc());
        List<String> lines = new ArrayList<>();
        StageTimes stageTimes = new StageTimes(lines::add, times, () -> false, null);
        stageTimes.onTaskEnd(taskEnd(7, 0, times.reading().id(), 1_000_000_000L));
        stageTimes.onTaskEnd(taskEnd(7, 1, times.reading().id(), 2_000_000_000L));
        stageTimes.onTaskEnd(taskEnd(7, 1, times.kernel().id(), 500_000_000L));
        stageTimes.onStageCompleted(new SparkListenerStageCompleted(stageInfo(7, 1)));
        stageTimes.onStageCompleted(new SparkListenerStageCompleted(stageInfo(7, 0)));
        assertEquals(2, lines.size(), lines.toString());
        assertTrue(lines.get(0).contains("reading 2.000, kernel 0.500,"), lines.get(0));
        assertTrue(lines.get(1).contains("reading 1.000, kernel 0.000,"), lines.get(1));
    }

    private static SparkListenerTaskEnd taskEnd(int stage, int attempt, long accumulator, long nanos) {
        TaskInfo info = new TaskInfo(1, 0, attempt, 0, 0L, "driver", "localhost", TaskLocality.PROCESS_LOCAL(), false);
        info.setAccumulables(CollectionConverters.asScala(List.of(new AccumulableInfo(accumulator, Option.empty(),
                Option.apply((Object) nanos), Option.empty(), false, true, Option.empty()))).toList());
        TaskMetrics metrics = new TaskMetrics();
        metrics.setExecutorRunTime(4_000);
        return new SparkListenerTaskEnd(stage, attempt, "ResultTask", Success$.MODULE$, info, new ExecutorMetrics(),
                metrics);
    }

    private static StageInfo stageInfo(int stage, int attempt) {
        scala.collection.immutable.Seq<RDDInfo> rdds = CollectionConverters.asScala(List.<RDDInfo>of()).toList();
        scala.collection.immutable.Seq<Object> parents = CollectionConverters.asScala(List.<Object>of()).toList();
        scala.collection.immutable.Seq<scala.collection.immutable.Seq<TaskLocation>> places =
                CollectionConverters.asScala(List.<scala.collection.immutable.Seq<TaskLocation>>of()).toList();
        return new StageInfo(stage, attempt, "runJob at X.java:1", 1, rdds, parents, "", new TaskMetrics(), places,
                Option.empty(), 0, false, 0);
    }

    private static double number(String line, String after) {
        Matcher m = Pattern.compile(Pattern.quote(after) + "(-?[0-9.]+)").matcher(line);
        assertTrue(m.find(), "'" + after + "' in " + line);
        return Double.parseDouble(m.group(1));
    }
}
