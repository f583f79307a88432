package org.sparseattention.cli;

import java.util.concurrent.Callable;
import org.apache.hadoop.util.ShutdownHookManager;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;
import org.sparseattention.job.JobFailures;
import org.sparseattention.job.RunSummary;
import org.sparseattention.job.SparkSetup;
import org.sparseattention.job.SparseAttentionJob;
import org.sparseattention.kernel.SparseForward;
import org.sparseattention.plan.JobSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code run}: the distributed job, embedded in local mode or under spark-submit. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Computes sparse attention of q, k, v (.npy, [B, L, E] or [L, E], E a multiple of --heads: heads of E / H features) into --out.",
        footer = {"", "Inputs: float .npy (f4, f8 or f2, < or > byte order), C order. --out gets output shards"
                + " (output-b<batch>-r<row>.npy, [rows, E]; lse-*.npy with --lse), output.npy and lse.npy with --merge,"
                + " manifest.json and _SUCCESS, all at once when the job ends.",
            "Exit status: 0 done; 2 bad usage or input (nothing written); 1 a failure while running; 3 out of memory;"
                + " 130, 143 or 129 interrupted (SIGINT, SIGTERM, SIGHUP)."})
final class RunCommand implements Callable<Integer> {
    @Option(names = "--q", required = true, description = "Queries: a .npy URI (file://, hdfs://, s3a://, or a path).")
    String q;

    @Option(names = "--k", required = true, description = "Keys, same shape as q.")
    String k;

    @Option(names = "--v", required = true, description = "Values, same shape as q.")
    String v;

    @Option(names = "--out", required = true, description = "Output directory; must not exist unless --overwrite.")
    String out;

    @Mixin
    PatternOptions pattern;

    @Option(names = "--scale", description = "Score scale. Default: 1/sqrt(D).")
    Double scale;

    @Option(names = "--partitions", defaultValue = "0", description = "Spark partitions for the shuffled units; 0 (the default) sizes them from the cluster's task slots and the shuffled bytes.")
    int partitions;

    @Option(names = "--max-key-blocks", defaultValue = "" + SparseForward.DEFAULT_MAX_KEY_BLOCKS,
            description = "Key blocks of a row computed at once; longer rows are split and merged. Default: ${DEFAULT-VALUE}.")
    int maxKeyBlocks;

    @Option(names = "--unit-tiles", defaultValue = "2048",
            description = "Tiles (all heads) per unit of whole rows (rows split by --max-key-blocks form units of up to 8 query blocks per key chunk). Default: ${DEFAULT-VALUE}.")
    int unitTiles;

    @Option(names = "--shard-rows", defaultValue = "16384", description = "Rows per output shard. Default: ${DEFAULT-VALUE}.")
    int shardRows;

    @Option(names = "--merge", fallbackValue = "true", description = "Also write one output.npy of shape [B, L, E].")
    boolean merge;

    @Option(names = "--lse", fallbackValue = "true", description = "Also write the log-sum-exp ([H, rows] shards; lse.npy [B, H, L] with --merge).")
    boolean lse;

    @Option(names = "--overwrite", fallbackValue = "true", description = "Replace an existing --out that is an empty directory or an output of this tool (nothing else),"
            + " only once the new output is complete.")
    boolean overwrite;

    @Option(names = "--allow-nonfinite", fallbackValue = "true", description = "Compute with NaN or infinite inputs instead of refusing them.")
    boolean allowNonfinite;

    @Option(names = "--master", description = "Spark master; wins over spark-submit's. Default: spark-submit's, else local[<cores>]. jobs/sparse-attention takes local masters only: a cluster's go through jobs/spark-submit.")
    String master;

    @Override
    public Integer call() throws Exception {
        if (scale != null) {
            // Checked here: NaN is the settings' mark for the default scale, which a NaN given here must not become.
            SparseForward.checkScale("--scale", scale);
        }
        JobSettings settings = new JobSettings(q, k, v, out, pattern.heads, pattern.mode, pattern.localCtx,
                pattern.blockSize, pattern.numVerts, pattern.vertsize, scale == null ? Double.NaN : scale, partitions,
                maxKeyBlocks, unitTiles, shardRows, merge, lse, overwrite, allowNonfinite);
        SparkConf conf = SparkSetup.embeddedConf("sparse-attention " + pattern.mode, master);
        try {
            SparkSetup.checkMaster(conf, SparkSetup.embedded());
        } catch (InvalidInputException e) {
            throw masterNamed(e);
        }
        // Inputs and --out checked first: a refused run starts nothing, the warm-up included.
        SparseAttentionJob.Prepared prepared = SparseAttentionJob.prepare(settings, conf);
        SparkSetup.checkMasterAnswers(conf, 5000);
        SparseAttentionJob.leftBeside(prepared, conf).forEach(System.err::println);
        SparkSetup.ownLocalDir(conf);
        SparkSetup.warmUpWhileStarting(conf);
        // Says, should Ctrl-C come while Spark stops after the run, that --out is complete: the
        // exit status (130) alone would read as a run that failed.
        Thread finished = new Thread(() -> {
            Main.settle();
            System.err.println("interrupted after the run had finished: --out " + out + " holds its new, complete output");
        });
        try (JavaSparkContext spark = start(conf)) {
            // After every check, Spark's start included: a refused run says only why.
            pattern.notes();
            RunSummary summary;
            try {
                summary = SparseAttentionJob.execute(prepared, spark, System.out::println);
            } catch (RuntimeException e) {
                // On a cluster the URI an executor read is the one to name (it may not be the driver's file).
                throw stopped(spark, spark.sc().isLocal() ? JobFailures.asGiven(e, settings, prepared.settings())
                        : e, prepared.outExisted());
            }
            // From here the output is in place: a shutdown says so (unless the run's own hook did).
            try {
                Runtime.getRuntime().addShutdownHook(finished);
            } catch (IllegalStateException shuttingDown) {
                if (!SparseAttentionJob.interruptionReported()) {
                    finished.run();
                }
            }
            System.out.println(summary.describe());
            Main.settle();
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(finished);
            } catch (IllegalStateException shuttingDown) {
                // Interrupted while Spark stopped: the hook says so.
            }
        }
        return 0;
    }

    /**
     * Says why a job failed when Spark stopped under it: the JVM shutting down (Ctrl-C, SIGTERM),
     * or a cluster that never answered or ended the application.
     */
    private RuntimeException stopped(JavaSparkContext spark, RuntimeException e, boolean outExisted) {
        // The job's own errors stand; "the job failed: ..." is what it says of Spark's.
        if (e instanceof InvalidInputException
                || e instanceof SparseAttentionException && !String.valueOf(e.getMessage()).startsWith("the job failed")) {
            return e;
        }
        if (ShutdownHookManager.get().isShutdownInProgress()) {
            return new SparseAttentionException("interrupted: --out " + out + (outExisted ? " is as it was"
                    : " was not created"), e);
        }
        if (spark.sc().isStopped()) {
            return new SparseAttentionException("Spark stopped before the job could end: the master "
                    + spark.getConf().get("spark.master", "") + " did not answer, or ended the application (see the"
                    + " log above)", e);
        }
        return e;
    }

    /**
     * Starts Spark; a master it cannot parse, a setting of the wrong type, or memory below the least
     * Spark runs in (the driver's heap, an executor's), is bad usage (exit status 2), named with
     * where to change it.
     */
    private JavaSparkContext start(SparkConf conf) {
        try {
            return new JavaSparkContext(conf);
        } catch (Exception e) {
            // Scala throws the checked SparkException undeclared.
            String message = String.valueOf(e.getMessage());
            String condition = e instanceof org.apache.spark.SparkThrowable spark ? spark.getCondition() : null;
            if (e instanceof org.apache.spark.SparkException && (message.startsWith("Could not parse Master URL")
                    || message.startsWith("Invalid master URL"))) {
                throw masterNamed(new InvalidInputException("--master (or spark.master) " + conf.get("spark.master", "")
                        + ": " + message, e));
            }
            if (condition != null && condition.startsWith("INVALID_CONF_VALUE")) {
                throw new InvalidInputException(settingSource(message) + ": " + plain(message), e);
            }
            if ("INVALID_DRIVER_MEMORY".equals(condition)) {
                throw new InvalidInputException("the JVM's heap is too small for Spark (raise -Xmx in"
                        + " SPARSE_ATTENTION_JAVA_OPTS, or --driver-memory under spark-submit): " + plain(message), e);
            }
            if (message.contains("has to be >= the number of cpus per task") && conf.getInt("spark.task.cpus", 1) > 1) {
                // More cores per task than an executor (local mode: the master's threads) has.
                String key = "spark.task.cpus";
                String where = sourceOf(key);
                throw new InvalidInputException(key + " " + conf.get(key) + (where == null ? "" : " (" + where + ")")
                        + ": no task could run: " + plain(message) + " (lower " + key + ", or give "
                        + (conf.get("spark.master", "").startsWith("local") ? "--master " + conf.get("spark.master")
                        + " more threads" : "executors more cores") + ")", e);
            }
            if ("INVALID_EXECUTOR_MEMORY".equals(condition) || message.startsWith("Asked to launch cluster with")) {
                String key = "spark.executor.memory";
                String where = sourceOf(key);
                if (where == null) {
                    where = SparkSetup.embedded() ? "set it in " + System.getProperty(
                            SparkSetup.SPARK_SETTINGS_PROPERTY) + " or with -D" + key
                            : "--conf " + key + "=... under jobs/spark-submit";
                }
                throw new InvalidInputException(key + " " + conf.get(key, "1g") + " (" + where + ") does not fit: "
                        + plain(message), e);
            }
            throw e;
        }
    }

    /**
     * Returns {@code e}, about the master, with where the master was set when that was the
     * launcher's settings file or a {@code -D} option rather than {@code --master}.
     */
    private InvalidInputException masterNamed(InvalidInputException e) {
        String source = master == null ? sourceOf("spark.master") : null;
        return source == null || !e.getMessage().startsWith("--master (or spark.master) ") ? e
                : new InvalidInputException(e.getMessage() + " (spark.master from " + source + ")", e);
    }

    /**
     * Returns a Spark error's message without its error class and SQL state, and without the advice
     * that follows some (to use spark-submit's options, which the message before it replaces).
     */
    private static String plain(String message) {
        return message.replaceFirst("^\\[[A-Z_.]+\\] ", "").replaceFirst(" SQLSTATE: \\w+$", "")
                .replaceFirst("(?s)\\s*Please (increase|use) .*$", "");
    }

    /**
     * Returns where the setting a Spark error names ({@code in the config "key" is invalid}) came
     * from: a {@code -D} option, which wins, else the launcher's Spark settings file and its key
     * when that file holds it, else the key alone (a {@code --conf} option).
     */
    private static String settingSource(String message) {
        java.util.regex.Matcher named = java.util.regex.Pattern.compile("in the config \"([^\"]+)\" is invalid")
                .matcher(message);
        String key = named.find() ? named.group(1) : null;
        String source = key == null ? null : sourceOf(key);
        return source != null ? source : key == null ? "a Spark setting" : "the Spark setting '" + key + "'";
    }

    /**
     * Returns where Spark setting {@code key} was given to a JVM of {@code jobs/sparse-attention}: a
     * {@code -D} option, which wins, else the launcher's Spark settings file and the key when that
     * file holds it; null otherwise (under spark-submit, or Spark's default).
     */
    private static String sourceOf(String key) {
        if (!SparkSetup.embedded()) {
            // spark-submit hands its --conf settings to the driver as system properties too.
            return null;
        }
        if (System.getProperty(key) != null) {
            return "-D" + key;
        }
        String file = System.getProperty(SparkSetup.SPARK_SETTINGS_PROPERTY);
        if (file != null) {
            java.util.Properties settings = new java.util.Properties();
            try (java.io.Reader in = java.nio.file.Files.newBufferedReader(java.nio.file.Path.of(file))) {
                settings.load(in);
                if (settings.containsKey(key)) {
                    return file + ": '" + key + "'";
                }
            } catch (java.io.IOException | RuntimeException unreadable) {
                // The job read it before; named by its key alone then.
            }
        }
        return null;
    }
}
