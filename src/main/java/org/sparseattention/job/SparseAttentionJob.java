package org.sparseattention.job;

import java.io.IOException;
import java.io.Reader;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.ExceptionFailure;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
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
import scala.jdk.javaapi.CollectionConverters;

/**
 * The distributed run: checked inputs in, block-sparse attention across executors, committed
 * output shards and (optionally) merged files out.
 */
public final class SparseAttentionJob {
    /**
     * System property naming a Java properties file of Spark settings for a run in this JVM
     * ({@code jobs/sparse-attention} passes {@code conf/spark-local.properties}). The command
     * line's master and {@code -Dspark.*} properties win over the file.
     */
    public static final String SPARK_SETTINGS_PROPERTY = "sparseattention.sparkSettings";

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
        org.apache.hadoop.fs.FileSystem fs = storage(conf).fileSystem(prepared.settings().out());
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
            warnings.add("warning: " + entry.getPath() + (madeAs.test(entry.getPath().getName(), staging)
                    ? " is the unfinished output of a run on --out that was killed, or of one still running: remove it"
                    + " once no run is using it"
                    : " holds what an --overwrite of --out moved aside and could not delete: remove it yourself"));
        }
        return warnings;
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
        HadoopStorage storage = storage(conf);
        InputFiles.Checked checked = InputFiles.check(settings, storage);
        InputShape shape = checked.shape();
        Planner.layout(settings, shape);
        JobSettings qualified = settings.withLocations(storage.path(settings.q()).toString(),
                storage.path(settings.k()).toString(), storage.path(settings.v()).toString(),
                storage.realPath(storage.path(settings.out())).toString());
        return new Prepared(qualified, shape, checked.outExisted());
    }

    /** Returns storage configured with the {@code spark.hadoop.*} entries of {@code conf}. */
    public static HadoopStorage storage(SparkConf conf) {
        Map<String, String> sparkSettings = new HashMap<>();
        for (Tuple2<String, String> entry : conf.getAll()) {
            sparkSettings.put(entry._1(), entry._2());
        }
        return HadoopStorage.withSparkHadoopProperties(sparkSettings);
    }

    /**
     * Returns storage configured as the job's would be: with the {@code spark.hadoop.*} entries of
     * the launcher's settings file and of {@code -Dspark.*} properties (for commands that write
     * files without Spark, such as {@code generate}).
     */
    public static HadoopStorage launcherStorage() {
        return storage(embeddedConf("sparse-attention", null));
    }

    /**
     * Refuses a master that would fail only once Spark starts: {@code local[0]}, which Spark parses
     * and then refuses with an exception of its own; and a cluster master whose executors would not
     * get this tool's classes: Spark ships them
     * as {@code spark.jars}, which spark-submit sets and a JVM started by {@code jobs/sparse-attention}
     * ({@code embedded}: its settings file given) does not; its tasks would fail with
     * {@code ClassNotFoundException} after Spark started.
     */
    public static void checkMaster(SparkConf conf, boolean embedded) {
        // This tool's own setting, read once the job runs: refused now, before Spark starts.
        String timeout = conf.get(ExecutorWatch.NO_EXECUTOR_TIMEOUT, null);
        if (timeout != null) {
            long millis;
            try {
                // With its unit: Spark reads a bare number as milliseconds.
                millis = timeout.strip().matches("\\d+") ? -1 : conf.getTimeAsMs(ExecutorWatch.NO_EXECUTOR_TIMEOUT, "60s");
            } catch (RuntimeException e) {
                millis = -1;
            }
            if (millis <= 0) {
                throw new InvalidInputException(ExecutorWatch.NO_EXECUTOR_TIMEOUT + ": expected a time"
                        + " above 0 with its unit, such as 60s or 2min, got '" + timeout + "'");
            }
        }
        String master = conf.get("spark.master", "");
        // local[0] and local[0,F] parse, then fail as Spark starts with an exception of its own.
        if (master.replace(" ", "").matches("local\\[0+(,.*)?]")) {
            throw new InvalidInputException("--master (or spark.master) " + master + ": expected at least 1 thread,"
                    + " got 0 (local[N] or local[*])");
        }
        // Only masters Spark would start executors for: a malformed one is Spark's to name.
        boolean cluster = master.startsWith("spark://") || master.equals("yarn") || master.startsWith("k8s://")
                || master.startsWith("local-cluster[");
        if (embedded && cluster && !conf.contains("spark.jars") && !conf.contains("spark.executor.extraClassPath")) {
            throw new InvalidInputException("--master (or spark.master) " + master + ": jobs/sparse-attention runs"
                    + " Spark in its own JVM, and a cluster's executors would not have this tool's classes; submit"
                    + " through jobs/spark-submit --master " + master + " -- run ..., which ships them");
        }
    }

    /**
     * Turns off the logging of Spark and of the output committer: what they log while the JVM shuts
     * down under a signal (tasks and a context stopped half-way) is no news to the user.
     */
    public static void quietSpark() {
        for (String logger : new String[] {"org.apache.spark", "org.apache.hadoop.mapreduce",
            "org.apache.hadoop.fs.FileUtil"}) {
            org.apache.logging.log4j.core.config.Configurator.setLevel(logger, org.apache.logging.log4j.Level.OFF);
        }
    }

    /**
     * Whether an interrupted run's shutdown hook reports what became of {@code --out}: the run's own
     * "interrupted" error would only repeat it.
     */
    public static boolean interruptionReported() {
        return OutputLocation.hookReports();
    }

    /** Whether this JVM was started by {@code jobs/sparse-attention}, which names its Spark settings file. */
    public static boolean embedded() {
        return System.getProperty(SPARK_SETTINGS_PROPERTY) != null;
    }

    /**
     * In local mode, where tasks run in this JVM, compiles the kernel on a background thread while
     * Spark starts and the job is planned; tasks wait for it only if it is not done yet. Elsewhere
     * executors compile their own, and this does nothing.
     */
    public static void warmUpWhileStarting(SparkConf conf) {
        if (isLocal(conf.get("spark.master", ""))) {
            Thread warmUp = new Thread(WarmUp::run, "sparse-attention-warm-up");
            warmUp.setDaemon(true);
            warmUp.start();
        }
    }

    /** How the local directory of a local-mode run is named ({@link ProcessDirs}). */
    static final String LOCAL_DIR_PREFIX = "sparse-attention-spark-";

    /**
     * In local mode, where neither {@code spark.local.dir} nor {@code SPARK_LOCAL_DIRS} names Spark's
     * local directory, gives Spark one of this process's own under {@code java.io.tmpdir}, deleted
     * as the JVM exits after Spark, and first deletes those of earlier processes that ended without
     * deleting theirs: a JVM out of memory exits at once, its hooks unrun, and the shuffle files of
     * a large run take gigabytes.
     */
    public static void ownLocalDir(SparkConf conf) {
        if (!isLocal(conf.get("spark.master", "")) || conf.contains("spark.local.dir")
                || System.getenv("SPARK_LOCAL_DIRS") != null) {
            return;
        }
        Path parent = Path.of(System.getProperty("java.io.tmpdir"));
        ProcessDirs.deleteLeftBehind(parent, LOCAL_DIR_PREFIX);
        Path dir;
        try {
            dir = ProcessDirs.create(parent, LOCAL_DIR_PREFIX);
        } catch (IOException e) {
            // Spark's own default then, which names the problem if it has one too.
            return;
        }
        conf.set("spark.local.dir", dir.toString());
        // After Spark's own hooks (which delete what it made there) and the run's reports of --out
        // (java.nio alone, so after the file systems close too).
        org.apache.hadoop.util.ShutdownHookManager.get().addShutdownHook(() -> {
            try {
                ProcessDirs.deleteTree(dir);
            } catch (IOException e) {
                // The next local run deletes it: its process is gone by then.
            }
        }, org.apache.hadoop.fs.FileSystem.SHUTDOWN_HOOK_PRIORITY - 5);
    }

    /**
     * Returns Spark settings with {@code master} (the command line's; null for spark-submit's or
     * the launcher's, else local mode on every core). A local run stays on loopback; a run on a
     * cluster keeps the addresses spark-submit and the cluster give, which its executors reach.
     */
    public static SparkConf embeddedConf(String appName, String master) {
        return embeddedConf(appName, master, System.getProperty(SPARK_SETTINGS_PROPERTY));
    }

    /** {@link #embeddedConf(String, String)} with the Spark settings file {@code settings} (null for none). */
    static SparkConf embeddedConf(String appName, String master, String settings) {
        SparkConf conf = new SparkConf(true).setAppName(appName);
        if (master != null) {
            conf.setMaster(master);
        }
        if (settings != null && !settings.isEmpty()) {
            Properties file = new Properties();
            try (Reader reader = Files.newBufferedReader(Path.of(settings), StandardCharsets.UTF_8)) {
                file.load(reader);
            } catch (IOException | RuntimeException e) {
                throw new InvalidInputException("could not read the Spark settings file " + settings + ": " + e);
            }
            // As spark-submit reads its --properties-file: values trimmed, keys that name no Spark
            // setting left out with a warning (a mistyped key Spark cannot tell from a new one).
            for (String key : new java.util.TreeSet<>(file.stringPropertyNames())) {
                if (!key.strip().startsWith("spark.")) {
                    System.err.println("warning: " + settings + ": '" + key.strip() + "' is no Spark setting (those"
                            + " start with 'spark.'); ignored");
                    continue;
                }
                conf.setIfMissing(key.strip(), file.getProperty(key).strip());
            }
        }
        conf.setIfMissing("spark.master", "local[" + Runtime.getRuntime().availableProcessors() + "]");
        if (isLocal(conf.get("spark.master"))) {
            conf.setIfMissing("spark.driver.host", "127.0.0.1");
            conf.setIfMissing("spark.driver.bindAddress", "127.0.0.1");
        }
        conf.setIfMissing("spark.ui.showConsoleProgress", "true");
        // Java serialisation keeps every record it wrote in its handle table until a reset, by
        // default every 100 records per reduce partition: with shuffle pieces of megabytes that
        // held hundreds of megabytes per task at L=1,048,576. The pieces are large, so a reset
        // after each costs nothing measurable.
        conf.setIfMissing("spark.serializer.objectStreamReset", "1");
        return conf;
    }

    /** Returns whether {@code e} comes from a job the scheduler ran: aborted on a stage's failure, or cancelled. */
    private static boolean jobRan(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String message = String.valueOf(t.getMessage());
            if (t instanceof org.apache.spark.SparkException
                    && (message.startsWith("Job aborted") || message.contains(" cancelled"))) {
                return true;
            }
        }
        return false;
    }

    /** Returns whether {@code master} runs tasks in this JVM (as {@code SparkContext.isLocal} says of a running one). */
    private static boolean isLocal(String master) {
        return master.equals("local") || master.startsWith("local[");
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
            if (!interrupted && jobRan(e)) {
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
            String full = diskFull(e, location, spark);
            if (full != null) {
                throw new SparseAttentionException(full, e);
            }
            throw translate(e);
        } catch (Error e) {
            // Out of memory in the driver, a class that would not load: the unfinished output goes too.
            location.discard();
            if (e instanceof org.apache.hadoop.fs.FSError) {
                // Hadoop's local file system reports a failed write (the manifest's) as an Error.
                String full = diskFull(e, location, spark);
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

    /**
     * Cancels the job when one of its tasks fails on bad input (a non-finite value, a file changed
     * since planning): a retry would read the same input and fail the same way, and a cluster
     * retries a task up to {@code spark.task.maxFailures} times, each redoing the task's work
     * before the bad row. Only the tasks of the job group {@code group}: a context may run others.
     */
    private static final class BadInputStop extends SparkListener {
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
            return messageOf(failure.fullStackTrace(), InvalidInputException.class);
        }
    }

    /**
     * Stops the job when a standalone cluster has had no executor for {@link #NO_EXECUTOR_TIMEOUT}
     * (default 60 s) while it runs: its workers stopped, and Spark would wait for them forever.
     * Only for standalone masters ({@code spark://}, {@code local-cluster[...]}) without dynamic
     * allocation: on YARN or Kubernetes, and under dynamic allocation, a while without executors is
     * part of recovering from their loss.
     */
    private static final class ExecutorWatch extends Thread {
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

    /**
     * Returns what to say of a job that failed on a full disk (an error anywhere in {@code e}, a
     * task's trace included, saying so), naming where it was writing, or null.
     */
    private static String diskFull(Throwable e, OutputLocation location, JavaSparkContext spark) {
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
    private static String messageOf(String message, Class<?> type) {
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
