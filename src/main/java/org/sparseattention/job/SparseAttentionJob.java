package org.sparseattention.job;

import java.io.IOException;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.LongAccumulator;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;
import org.sparseattention.errors.Words;
import org.sparseattention.io.HadoopStorage;
import org.sparseattention.plan.InputShape;
import org.sparseattention.plan.JobSettings;
import org.sparseattention.plan.Plan;
import org.sparseattention.plan.Planner;
import org.sparseattention.plan.WorkUnit;
import scala.Tuple2;

/**
 * The distributed run: checked inputs in, block-sparse attention across executors, committed
 * output shards and (optionally) merged files out.
 */
public final class SparseAttentionJob {
    private SparseAttentionJob() {
    }

    /**
     * Checked settings and input shape: everything the job needs before Spark starts.
     *
     * @param outExisted whether {@code --out} existed when it was checked: only then may {@code --overwrite} replace it
     */
    public record Prepared(JobSettings settings, InputShape shape, boolean outExisted) {
    }

    /**
     * Returns a warning for each directory earlier runs on --out left beside it: the hidden staging
     * directory of a run that did not finish (killed, or still running), and a replaced output that
     * could not be deleted. They are named, never deleted: one may be another run's, at work.
     */
    public static List<String> leftBeside(Prepared prepared, SparkConf conf) throws IOException {
        org.apache.hadoop.fs.Path out = new org.apache.hadoop.fs.Path(prepared.settings().out());
        List<String> warnings = new ArrayList<>();
        if (out.getParent() == null) {
            return warnings;
        }
        org.apache.hadoop.fs.FileSystem fs = SparkSetup.storage(conf).fileSystem(prepared.settings().out());
        String staging = OutputLocation.stagingPrefix(out);
        String aside = HadoopStorage.asidePrefix(out);
        // The prefix, then the UUID the name was made with, and nothing else (not another output's).
        java.util.function.BiPredicate<String, String> madeAs = (name, prefix) -> name.startsWith(prefix)
                && name.substring(prefix.length()).matches("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
        org.apache.hadoop.fs.FileStatus[] beside;
        try {
            beside = fs.listStatus(out.getParent(), p -> madeAs.test(p.getName(), staging) || madeAs.test(p.getName(), aside));
        } catch (IOException e) {
            // Only a warning is at stake: the run's own checks have passed.
            return warnings;
        }
        for (org.apache.hadoop.fs.FileStatus entry : beside) {
            String what;
            if (!madeAs.test(entry.getPath().getName(), staging)) {
                what = " holds what an --overwrite of --out moved aside and could not delete: remove it yourself";
            } else if (complete(fs, entry.getPath())) {
                // A run that could not put its finished output in place (--out appeared or changed, the
                // old output could not be moved aside, the rename failed) leaves it there.
                what = " holds the complete output of a run on --out that could not put it in place (that run's"
                        + " error named it): move it where you want it, or remove it";
            } else {
                what = " is the unfinished output of a run on --out that was killed, or of one still running: remove"
                        + " it once no run is using it";
            }
            warnings.add("warning: " + entry.getPath() + what);
        }
        return warnings;
    }

    /** Returns whether staging directory {@code dir} holds a whole output (its _SUCCESS written last). */
    private static boolean complete(org.apache.hadoop.fs.FileSystem fs, org.apache.hadoop.fs.Path dir) {
        try {
            return fs.exists(new org.apache.hadoop.fs.Path(dir, OutputFiles.SUCCESS));
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Reads and checks the inputs' headers and the output location, and makes every location a
     * fully qualified URI so that executors resolve them as the driver did (the output's symbolic
     * links resolved, so that an output reached through a link replaces what the link points to);
     * starts nothing.
     */
    public static Prepared prepare(JobSettings settings) throws IOException {
        return prepare(settings, new SparkConf(true));
    }

    /**
     * {@link #prepare(JobSettings)} with the file systems configured by the {@code spark.hadoop.*}
     * entries of {@code conf} (the launcher's settings file and {@code -Dspark.*} properties), as
     * the job's tasks will have them.
     */
    public static Prepared prepare(JobSettings settings, SparkConf conf) throws IOException {
        HadoopStorage storage = SparkSetup.storage(conf);
        InputFiles.Checked checked = InputFiles.check(settings, storage);
        InputShape shape = checked.shape();
        Planner.layout(settings, shape);
        JobSettings qualified = settings.withLocations(storage.path(settings.q()).toString(),
                storage.path(settings.k()).toString(), storage.path(settings.v()).toString(),
                storage.realPath(storage.path(settings.out())).toString());
        return new Prepared(qualified, shape, checked.outExisted());
    }

    /**
     * Whether an interrupted run's shutdown hook reports what became of {@code --out}: the run's own
     * "interrupted" error would only repeat it.
     */
    public static boolean interruptionReported() {
        return OutputLocation.hookReports();
    }

    /** One shard task's work: its shard number and the units it computes in place. */
    record ShardWork(int shard, List<WorkUnit> units) implements java.io.Serializable {
    }

    /** Runs a prepared job on {@code spark}, printing progress lines to {@code console}. */
    public static RunSummary execute(Prepared prepared, JavaSparkContext spark, Consumer<String> console)
            throws IOException {
        long started = System.nanoTime();
        long compiling = compilationMillis();
        JobSettings settings = prepared.settings();
        InputShape shape = prepared.shape();
        int slots = taskSlots(spark, console);
        long planning = System.nanoTime();
        Plan plan = Planner.plan(settings, shape, slots);
        // Planning alone: a cluster's wait for its executors has a line of its own.
        console.accept(plan.figures().describe()
                + String.format(Locale.ROOT, " [planned in %.2f s]", (System.nanoTime() - planning) / 1e9));
        OutputLocation location = new OutputLocation(settings.out(), spark.hadoopConfiguration(),
                prepared.outExisted());
        String group = "sparse-attention-" + location.staging().getName();
        spark.setJobGroup(group, "sparse attention " + settings.mode() + " on [" + shape.batch() + ", "
                + shape.seqLen() + ", " + shape.features() + "] -> " + settings.out(), true);
        // The storage carries the whole Hadoop configuration: broadcast, it is deserialised once per
        // executor rather than with every task (residue-order tasks took 46 ms each to deserialise
        // with it in their closures, 16-22 ms without).
        Broadcast<HadoopStorage> storage = spark.broadcast(new HadoopStorage(spark.hadoopConfiguration()));
        TaskTimes times = TaskTimes.register(spark.sc());
        BadInputStop badInput = new BadInputStop(spark.sc(), group);
        // Told of bad input by the listener above: both are on Spark's shared event queue, one thread
        // delivering events in order, and a failed task's end comes before its stage's.
        StageTimes stageTimes = new StageTimes(console, times, () -> badInput.message != null, group);
        spark.sc().addSparkListener(stageTimes);
        spark.sc().addSparkListener(badInput);
        ExecutorWatch executors = ExecutorWatch.start(spark, group);
        try {
            location.guard();
            LongAccumulator pairs = spark.sc().longAccumulator("allowed pairs");
            int shards = plan.inPlace().size();
            List<ShardWork> shardWork = new ArrayList<>();
            for (int shard : plan.shardOrder()) {
                shardWork.add(new ShardWork(shard, plan.inPlace().get(shard)));
            }
            // One element per partition, in the plan's shard order, as ShardPartitioner sends the pieces.
            JavaRDD<ShardWork> shardTasks = spark.parallelize(shardWork, shards);
            JavaRDD<Tuple2<Integer, ShardResult>> merged;
            if (plan.partitions().isEmpty()) {
                merged = shardTasks.map(work -> {
                    times.useOnThisThread();
                    return new Tuple2<>(work.shard(), ShardTask.run(work.shard(), work.units(),
                            Collections.emptyIterator(), settings, shape, storage.value(), pairs::add, times));
                });
            } else {
                // Stages are named by their call sites: the stage lines then say what each stage does.
                spark.setCallSite("shuffled units");
                JavaRDD<List<WorkUnit>> groups = spark.parallelize(plan.partitions(), plan.partitions().size());
                // Sorted by the shuffle (which spills what does not fit in memory), not grouped: a
                // shard of long rows split into many chunks receives more pieces than a heap holds.
                JavaPairRDD<PieceKey, Piece> pieces = groups
                        .flatMapToPair(units -> new UnitTask(settings, shape, units, storage.value(), times))
                        .repartitionAndSortWithinPartitions(new ShardPartitioner(plan.shardOrder()));
                merged = shardTasks.zipPartitions(pieces, (works, sorted) -> {
                    ShardWork work = works.next();
                    times.useOnThisThread();
                    ShardResult result = ShardTask.run(work.shard(), work.units(), sorted, settings, shape,
                            storage.value(), pairs::add, times);
                    return List.of(new Tuple2<>(work.shard(), result)).iterator();
                });
            }
            JavaPairRDD<Integer, ShardResult> results = merged.mapToPair(result -> result);
            Configuration output = new Configuration(spark.hadoopConfiguration());
            output.setBoolean("mapreduce.fileoutputcommitter.marksuccessfuljobs", false);
            output.setBoolean(ShardOutputFormat.WRITE_LSE, settings.lse());
            output.setInt(ShardOutputFormat.HEADS, shape.heads());
            spark.setJobDescription("compute " + Words.count(plan.units().size(), "unit") + ", write "
                    + Words.count(shards, "shard"));
            spark.setCallSite("shard tasks");
            results.saveAsNewAPIHadoopFile(location.staging().toString(), Integer.class, ShardResult.class,
                    ShardOutputFormat.class, output);
            spark.setJobDescription(null);
            stageTimes.awaitJobEnd(10);
            long finishing = System.nanoTime();
            org.apache.hadoop.fs.Path leftOver = location.promote(settings.overwrite(),
                    () -> OutputFiles.finish(location.fileSystem(), location.staging(), plan));
            console.accept(String.format(Locale.ROOT, "wrote %smanifest and _SUCCESS in %.2f s", settings.merge() ? "merged files, " : "",
                    (System.nanoTime() - finishing) / 1e9));
            if (leftOver != null) {
                console.accept("warning: the new output is in place, but the previous one could not be deleted"
                        + " entirely: what is left of it is in " + leftOver + " (remove it yourself)");
            }
            if (spark.isLocal() && compiling >= 0) {
                console.accept(String.format(Locale.ROOT, "JIT compiler threads (tasks run in this JVM): %.2f s compiling during"
                        + " the run", (compilationMillis() - compiling) / 1e3));
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            double gflop = 4.0 * shape.headDim() * pairs.value() / 1e9;
            return new RunSummary((long) shape.batch() * shape.seqLen(), shape.heads(), plan.figures().tiles(), gflop,
                    seconds, plan.partitions().size() + shards,
                    plan.units().size(), location.out().toString());
        } catch (Exception e) {
            boolean interrupted = location.interrupted();
            // The failed stage's line, which Spark delivers on its own thread, before the listener goes;
            // only where the scheduler ran the job (a failure before its submission has no end to wait for).
            if (!interrupted && JobFailures.jobRan(e)) {
                stageTimes.awaitJobEnd(5);
            }
            location.discard();
            if (interrupted) {
                throw location.interruptedError(e);
            }
            if (badInput.message != null) {
                throw new InvalidInputException(badInput.message, e);
            }
            if (executors != null && executors.message != null) {
                throw new SparseAttentionException(executors.message, e);
            }
            String full = JobFailures.diskFull(e, location, spark);
            if (full != null) {
                throw new SparseAttentionException(full, e);
            }
            throw JobFailures.translate(e);
        } catch (Error e) {
            // Out of memory in the driver, a class that would not load: the unfinished output goes too.
            location.discard();
            if (e instanceof org.apache.hadoop.fs.FSError) {
                // Hadoop's local file system reports a failed write (the manifest's) as an Error.
                String full = JobFailures.diskFull(e, location, spark);
                throw new SparseAttentionException(full != null ? full : "could not write the output beside --out "
                        + location.out() + " (" + e.getCause() + "); --out is as it was", e);
            }
            throw e;
        } finally {
            spark.sc().removeSparkListener(badInput);
            if (executors != null) {
                executors.interrupt();
            }
            location.release();
            if (!spark.sc().isStopped()) {
                // A stopped context (Ctrl-C) has no block manager to drop the broadcast from.
                storage.destroy();
            }
            spark.sc().removeSparkListener(stageTimes);
            spark.clearJobGroup();
            spark.clearCallSite();
        }
    }

    /**
     * Returns the task slots to plan for. On a cluster, executors register after the context
     * starts (a standalone master does not wait for them), and until they do Spark reports two
     * slots: waits, up to {@code spark.scheduler.maxRegisteredResourcesWaitingTime}, until
     * {@code spark.executor.instances} have registered or, where that is not set, some have and
     * none has joined for a second. {@code spark.default.parallelism} fixes the number instead, as
     * do local runs and dynamic allocation.
     */
    static int taskSlots(JavaSparkContext spark, Consumer<String> console) {
        if (spark.isLocal() || spark.getConf().contains("spark.default.parallelism")
                || spark.getConf().getBoolean("spark.dynamicAllocation.enabled", false)) {
            // Under dynamic allocation executors come with the tasks: there is nothing to wait for.
            return spark.defaultParallelism();
        }
        int expected = spark.getConf().getInt("spark.executor.instances", 0);
        long started = System.nanoTime();
        long deadline = started + spark.getConf().getTimeAsMs("spark.scheduler.maxRegisteredResourcesWaitingTime", "30s")
                * 1_000_000L;
        int seen = -1;
        long steadySince = started;
        while (System.nanoTime() < deadline && !spark.sc().isStopped()) {
            // The status tracker lists the driver among the executors.
            int executors = spark.sc().statusTracker().getExecutorInfos().length - 1;
            long now = System.nanoTime();
            if (expected > 0 ? executors >= expected : executors > 0 && executors == seen
                    && now - steadySince >= 1_000_000_000L) {
                seen = executors;
                break;
            }
            if (executors != seen) {
                seen = executors;
                steadySince = now;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (seen <= 0 && !spark.sc().isStopped()) {
            // Tasks would wait for executors forever ("Initial job has not accepted any resources").
            SparkConf conf = spark.getConf();
            throw new SparseAttentionException(String.format(Locale.ROOT, "no executor registered with the master %s"
                    + " in %.1f s: each asks for spark.executor.memory=%s and spark.executor.cores=%s, and workers that"
                    + " offer less start none (raise spark.scheduler.maxRegisteredResourcesWaitingTime if they are only"
                    + " slow to start)", conf.get("spark.master", ""), (System.nanoTime() - started) / 1e9,
                    conf.get("spark.executor.memory", "1g"), conf.get("spark.executor.cores", "all of a worker's")));
        }
        int slots = registeredSlots(spark, deadline);
        console.accept(String.format(Locale.ROOT, "planning for %s on %s%s (waited %.1f s for them to"
                + " register; spark.default.parallelism fixes the number)", Words.count(slots, "task slot"),
                Words.count(Math.max(seen, 0), "executor"),
                expected > seen ? " of the " + expected + " spark.executor.instances asks for" : "",
                (System.nanoTime() - started) / 1e9));
        return slots;
    }

    /**
     * Returns the task slots of the registered executors: on each, its cores over {@code
     * spark.task.cpus} (Spark's default parallelism is at least 2, a 1-core cluster's included);
     * Spark's default parallelism where its status store lists no executor's cores. Where every
     * executor has fewer cores than a task takes, waits until {@code deadline} for one with more,
     * then refuses the run: its tasks would wait forever.
     */
    private static int registeredSlots(JavaSparkContext spark, long deadline) {
        int taskCpus = Math.max(1, spark.getConf().getInt("spark.task.cpus", 1));
        while (true) {
            long slots = 0;
            int mostCores = 0;
            for (org.apache.spark.status.api.v1.ExecutorSummary executor
                    : scala.jdk.javaapi.CollectionConverters.asJava(spark.sc().statusStore().executorList(true))) {
                if (!"driver".equals(executor.id())) {
                    // A task takes its cores on one executor.
                    slots += executor.totalCores() / taskCpus;
                    mostCores = Math.max(mostCores, executor.totalCores());
                }
            }
            if (slots > 0 || mostCores == 0) {
                return slots > 0 ? (int) Math.min(Integer.MAX_VALUE, slots) : spark.defaultParallelism();
            }
            if (System.nanoTime() >= deadline || spark.sc().isStopped()) {
                throw new InvalidInputException("spark.task.cpus " + taskCpus + ": more cores than any executor has (at"
                        + " most " + mostCores + "): no task could run; lower spark.task.cpus or raise"
                        + " spark.executor.cores");
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return spark.defaultParallelism();
            }
        }
    }

    /** Returns the time this JVM's compiler threads have spent compiling, in milliseconds, or -1. */
    private static long compilationMillis() {
        CompilationMXBean compiler = ManagementFactory.getCompilationMXBean();
        return compiler != null && compiler.isCompilationTimeMonitoringSupported()
                ? compiler.getTotalCompilationTime() : -1;
    }


}
