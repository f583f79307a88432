package org.sparseattention.job;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.spark.SparkConf;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;
import org.sparseattention.io.HadoopStorage;
import scala.Tuple2;

/**
 * How this tool starts Spark: the settings a run takes from its launcher, the masters it refuses
 * before Spark starts, a local run's own directory and warm-up, and storage configured as the
 * tasks' will be.
 */
public final class SparkSetup {
    /**
     * System property naming a Java properties file of Spark settings for a run in this JVM
     * ({@code jobs/sparse-attention} passes {@code conf/spark-local.properties}). The command
     * line's master and {@code -Dspark.*} properties win over the file.
     */
    public static final String SPARK_SETTINGS_PROPERTY = "sparseattention.sparkSettings";

    private SparkSetup() {
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
     * Refuses a standalone master ({@code spark://host:port}, or several for standby masters) none
     * of whose addresses takes a connection within {@code timeoutMillis} (after the name's lookup,
     * which the resolver bounds): Spark would retry for a minute and then say only that it stopped.
     */
    public static void checkMasterAnswers(SparkConf conf, int timeoutMillis) {
        String master = conf.get("spark.master", "");
        if (!master.startsWith("spark://")) {
            return;
        }
        List<String> tried = new ArrayList<>();
        for (String address : master.substring("spark://".length()).split(",")) {
            int colon = address.lastIndexOf(':');
            int port;
            try {
                port = Integer.parseInt(address.substring(colon + 1));
            } catch (RuntimeException e) {
                port = -1;
            }
            if (colon < 1 || port < 0 || port > 65535) {
                // Malformed: Spark names it as it starts.
                return;
            }
            String host = address.substring(0, colon).replace("[", "").replace("]", "");
            try (java.net.Socket socket = new java.net.Socket()) {
                socket.connect(new java.net.InetSocketAddress(host, port), timeoutMillis);
                return;
            } catch (java.net.UnknownHostException e) {
                tried.add(address + ": unknown host");
            } catch (IOException e) {
                tried.add(address + ": " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
            }
        }
        throw new SparseAttentionException("no Spark master answers at " + master + " (" + String.join("; ", tried)
                + "): start it (jobs/local-cluster start, for one on this machine) or check --master");
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
        ownLocalDir(conf, System.getenv("SPARK_LOCAL_DIRS"));
    }

    /** {@link #ownLocalDir(SparkConf)} with the environment's {@code SPARK_LOCAL_DIRS} as given. */
    static void ownLocalDir(SparkConf conf, String sparkLocalDirs) {
        if (!isLocal(conf.get("spark.master", "")) || conf.contains("spark.local.dir") || sparkLocalDirs != null) {
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

    /** Returns whether {@code master} runs tasks in this JVM (as {@code SparkContext.isLocal} says of a running one). */
    private static boolean isLocal(String master) {
        return master.equals("local") || master.startsWith("local[");
    }

}
