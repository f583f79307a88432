package org.sparseattention.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;
import org.sparseattention.plan.JobSettings;

class EmbeddedConfTest {
    /**
     * A local run gives Spark a directory of its own process, and deletes those of processes that
     * ended without deleting theirs (out of memory); one the user names, or a cluster's, is theirs.
     */
    @Test
    void aLocalRunHasItsOwnSparkDirectoryAndDeletesThoseLeftBehind() throws Exception {
        Path parent = Path.of(System.getProperty("java.io.tmpdir"));
        Process ended = new ProcessBuilder("true").start();
        ended.waitFor();
        Path left = Files.createDirectories(parent.resolve(SparkSetup.LOCAL_DIR_PREFIX + ended.pid()
                + "-99/blockmgr-1/0c"));
        Files.writeString(left.resolve("shuffle_0_1_0.data"), "left by a JVM out of memory");
        SparkConf local = new SparkConf(false).setMaster("local[2]");
        SparkSetup.ownLocalDir(local, null);
        Path own = Path.of(local.get("spark.local.dir"));
        assertTrue(Files.isDirectory(own) && own.getParent().equals(parent) && own.getFileName().toString()
                .startsWith(SparkSetup.LOCAL_DIR_PREFIX + ProcessHandle.current().pid() + "-"), own.toString());
        assertFalse(Files.exists(parent.resolve(SparkSetup.LOCAL_DIR_PREFIX + ended.pid() + "-99")));
        Files.delete(own);
        SparkConf named = new SparkConf(false).setMaster("local[2]").set("spark.local.dir", "/data/spark");
        SparkSetup.ownLocalDir(named, null);
        assertEquals("/data/spark", named.get("spark.local.dir"));
        // SPARK_LOCAL_DIRS in the environment names Spark's directories instead.
        SparkConf fromEnvironment = new SparkConf(false).setMaster("local[2]");
        SparkSetup.ownLocalDir(fromEnvironment, "/data/spark-env");
        assertFalse(fromEnvironment.contains("spark.local.dir"));
        SparkConf cluster = new SparkConf(false).setMaster("spark://10.1.2.3:7077");
        SparkSetup.ownLocalDir(cluster, null);
        assertFalse(cluster.contains("spark.local.dir"));
    }

    /** A standalone master that takes no connection is named at once, rather than after Spark's minute of retries. */
    @Test
    void aMasterThatDoesNotAnswerIsNamed() throws IOException {
        int closed;
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            closed = socket.getLocalPort();
            // Listening: taken, and so is a list of standby masters with one that answers.
            SparkSetup.checkMasterAnswers(new SparkConf(false).setMaster("spark://127.0.0.1:" + closed), 2000);
            SparkSetup.checkMasterAnswers(new SparkConf(false).setMaster("spark://127.0.0.1:1,127.0.0.1:" + closed),
                    2000);
        }
        SparkConf down = new SparkConf(false).setMaster("spark://127.0.0.1:" + closed);
        SparseAttentionException refused = assertThrows(SparseAttentionException.class,
                () -> SparkSetup.checkMasterAnswers(down, 2000));
        assertTrue(refused.getMessage().startsWith("no Spark master answers at spark://127.0.0.1:" + closed
                + " (127.0.0.1:" + closed + ": Connection refused"), refused.getMessage());
        assertTrue(refused.getMessage().endsWith("): start it (jobs/local-cluster start, for one on this machine) or"
                + " check --master"), refused.getMessage());
        // No address (a malformed IPv6 literal: refused without asking a name server).
        SparkConf unknown = new SparkConf(false).setMaster("spark://[::g]:7077");
        String noHost = assertThrows(SparseAttentionException.class, () -> SparkSetup.checkMasterAnswers(unknown, 2000))
                .getMessage();
        assertTrue(noHost.startsWith("no Spark master answers at spark://[::g]:7077 ([::g]:7077: unknown host)"), noHost);
        // Malformed (Spark's to name as it starts) and other masters are not tried.
        SparkSetup.checkMasterAnswers(new SparkConf(false).setMaster("spark://7077"), 2000);
        SparkSetup.checkMasterAnswers(new SparkConf(false).setMaster("spark://host"), 2000);
        SparkSetup.checkMasterAnswers(new SparkConf(false).setMaster("local[2]"), 2000);
        SparkSetup.checkMasterAnswers(new SparkConf(false).setMaster("yarn"), 2000);
    }

    @Test
    void onlyALocalRunIsKeptOnLoopback() {
        SparkConf local = SparkSetup.embeddedConf("test", "local[3]");
        assertEquals("local[3]", local.get("spark.master"));
        assertEquals("127.0.0.1", local.get("spark.driver.host"));
        assertEquals("127.0.0.1", local.get("spark.driver.bindAddress"));
        // Executors on other machines must reach the driver at the address the cluster gives it.
        SparkConf cluster = SparkSetup.embeddedConf("test", "spark://10.1.2.3:7077");
        assertEquals("spark://10.1.2.3:7077", cluster.get("spark.master"));
        assertFalse(cluster.contains("spark.driver.host"));
        assertFalse(cluster.contains("spark.driver.bindAddress"));
        // Started by the embedded launcher, without spark.jars (spark-submit's), a cluster's
        // executors could not load the tasks' classes.
        InvalidInputException refused = assertThrows(InvalidInputException.class,
                () -> SparkSetup.checkMaster(cluster, true));
        assertTrue(refused.getMessage().contains("jobs/spark-submit --master spark://10.1.2.3:7077 -- run"),
                refused.getMessage());
        SparkSetup.checkMaster(local, true);
        SparkSetup.checkMaster(cluster.clone().set("spark.jars", "/opt/app.jar"), true);
        // Under spark-submit (YARN's cluster mode ships the jar without spark.jars) it is not ours to refuse.
        SparkSetup.checkMaster(new SparkConf(false).setMaster("yarn"), false);
    }

    /** Spark parses local[0] and then fails as it starts: refused before, whichever launcher. */
    @Test
    void aLocalMasterWithoutThreadsIsRefused() {
        for (String none : new String[] {"local[0]", "local[0,2]", "local[00]"}) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> SparkSetup.checkMaster(new SparkConf(false).setMaster(none), false));
            assertEquals("--master (or spark.master) " + none + ": expected at least 1 thread, got 0 (local[N] or"
                    + " local[*])", e.getMessage());
        }
        SparkSetup.checkMaster(new SparkConf(false).setMaster("local[10]"), false);
        SparkSetup.checkMaster(new SparkConf(false).setMaster("local[1,0]"), false);
    }

    /** The tool's own Spark setting is checked before Spark starts, not when the job reads it. */
    @Test
    void theNoExecutorTimeoutIsCheckedBeforeSparkStarts() {
        String key = "spark.sparseattention.noExecutorTimeout";
        for (String bad : new String[] {"abc", "0s", "-5s", "60"}) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> SparkSetup.checkMaster(
                    new SparkConf(false).setMaster("spark://h:7077").set(key, bad), false));
            assertEquals(key + ": expected a time above 0 with its unit, such as 60s or 2min, got '" + bad + "'",
                    e.getMessage());
        }
        SparkSetup.checkMaster(new SparkConf(false).setMaster("spark://h:7077").set(key, "2min"), false);
    }

    /** The launcher's settings file, read as Java reads properties; the command line wins over it. */
    @Test
    void aSettingsFileIsReadAsPropertiesAndTheCommandLineWins(@TempDir Path dir) throws IOException {
        // Spaces around the separator, a ':' separator, a '!' comment, and a last line without a newline.
        Path file = Files.writeString(dir.resolve("spark.properties"), "# settings\n! also a comment\n"
                + "spark.master = local[1]\nspark.task.maxFailures: 7\nspark.shuffle.compress=false");
        SparkConf fromFile = SparkSetup.embeddedConf("test", null, file.toString());
        assertEquals("local[1]", fromFile.get("spark.master"));
        assertEquals("7", fromFile.get("spark.task.maxFailures"));
        assertEquals("false", fromFile.get("spark.shuffle.compress"));
        assertEquals("127.0.0.1", fromFile.get("spark.driver.host"));
        assertEquals("local[3]", SparkSetup.embeddedConf("test", "local[3]", file.toString()).get("spark.master"));
        Path other = Files.writeString(dir.resolve("other.properties"), "shuffle.compress=false\nspark.task.cpus=1\n");
        java.io.PrintStream err = System.err;
        java.io.ByteArrayOutputStream warnings = new java.io.ByteArrayOutputStream();
        SparkConf withOther;
        try {
            System.setErr(new java.io.PrintStream(warnings, true));
            withOther = SparkSetup.embeddedConf("test", null, other.toString());
        } finally {
            System.setErr(err);
        }
        assertTrue(warnings.toString().contains("warning: " + other + ": 'shuffle.compress' is no Spark setting"),
                warnings.toString());
        assertFalse(withOther.contains("shuffle.compress"));
        assertEquals("1", withOther.get("spark.task.cpus"));
        Path missing = dir.resolve("none.properties");
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> SparkSetup.embeddedConf("test", null, missing.toString()));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    }

    /** A file system the launcher's settings file configures serves the checks before Spark starts, as the tasks. */
    @Test
    void theChecksBeforeSparkReadTheSettingsFilesHadoopEntries(@TempDir Path dir) throws IOException {
        Path in = dir.resolve("in");
        Files.createDirectories(in);
        JobTestSupport.writeInputs(in, 1, 20, 8, 1);
        String scheme = "appearing://";
        JobSettings settings = new JobSettings(scheme + in.resolve("q.npy"), scheme + in.resolve("k.npy"),
                scheme + in.resolve("v.npy"), dir.resolve("result").toString(), 2, "all", 0, 16, 1, 1, Double.NaN, 0,
                64, 64, 50, false, false, false, false);
        InvalidInputException unknown = assertThrows(InvalidInputException.class,
                () -> SparseAttentionJob.prepare(settings, new SparkConf(false)));
        assertTrue(unknown.getMessage().contains("no file system for its scheme"), unknown.getMessage());
        Path file = Files.writeString(dir.resolve("spark.properties"),
                "spark.hadoop.fs.appearing.impl = " + AppearingFileSystem.class.getName() + "\n"
                        // Not cached: a later test's check that the scheme is unknown without these settings holds.
                        + "spark.hadoop.fs.appearing.impl.disable.cache = true\n");
        SparkConf conf = SparkSetup.embeddedConf("test", "local[1]", file.toString());
        assertEquals(20, SparseAttentionJob.prepare(settings, conf).shape().seqLen());
        // An output that appears just after the check (another run finishing first) did not exist for
        // this run: --overwrite may not replace it.
        JobSettings appearing = new JobSettings(settings.q(), settings.k(), settings.v(),
                scheme + dir.resolve("later").resolve("out"), 2, "all", 0, 16, 1, 1, Double.NaN, 0, 64, 64, 50, false,
                false, true, false);
        SparseAttentionJob.Prepared prepared = SparseAttentionJob.prepare(appearing, conf);
        assertTrue(Files.isDirectory(dir.resolve("later").resolve("out")), "the output appeared after the check");
        assertFalse(prepared.outExisted());
    }
}
