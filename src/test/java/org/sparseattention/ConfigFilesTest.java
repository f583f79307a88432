package org.sparseattention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.impl.Log4jLogEvent;
import org.apache.logging.log4j.core.layout.PatternLayout;
import org.apache.logging.log4j.message.SimpleMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.sparseattention.job.SparkSetup;

/** The launchers' JIT options: known to this JDK, and repeated for drivers and executors. */
class ConfigFilesTest {
    private static final String IGNORE_UNKNOWN = "-XX:+IgnoreUnrecognizedVMOptions";

    /** The options as the launchers read them (jobs/lib/build.bash, read_jit_options). */
    private static List<String> jitOptions() throws IOException {
        List<String> options = Files.readString(Path.of("conf/jit.options")).lines()
                .map(String::strip)
                .filter(line -> !line.isEmpty() && !line.startsWith("#"))
                .toList();
        assertFalse(options.isEmpty(), "conf/jit.options lists no option");
        return options;
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void theLaunchersReadJitOptionsTrimmedWithTheLastLineWithoutANewline(@TempDir Path root)
            throws IOException, InterruptedException {
        Files.createDirectories(root.resolve("conf"));
        Files.writeString(root.resolve("conf/jit.options"), "# a comment\n  -XX:+First \t\n\n   # indented comment\n-XX:Last=1");
        Process bash = new ProcessBuilder("bash", "-c",
                "set -euo pipefail; . jobs/lib/build.bash; read_jit_options \"$1\"; printf '[%s]\\n' \"${jit_options[@]}\"",
                "bash", root.toString()).redirectErrorStream(true).start();
        String output = new String(bash.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(bash.waitFor(50, TimeUnit.SECONDS), "bash did not end");
        assertEquals(0, bash.exitValue(), output);
        assertEquals("[-XX:+First]\n[-XX:Last=1]\n", output);
        // A line that is no option (java would take it for the class to run): refused, with its file and line.
        Files.writeString(root.resolve("conf/jit.options"), "-XX:+First\n# note\nXX:+UseG1GC\n");
        Process refused = new ProcessBuilder("bash", "-c",
                "set -euo pipefail; . jobs/lib/build.bash; read_jit_options \"$1\"; echo read", "bash", root.toString())
                .redirectErrorStream(true).start();
        String said = new String(refused.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(refused.waitFor(50, TimeUnit.SECONDS), "bash did not end");
        assertEquals(2, refused.exitValue(), said);
        assertEquals(root.resolve("conf/jit.options") + ": line 3: expected a JVM option starting with '-', got"
                + " 'XX:+UseG1GC'\n", said);
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void sparkSubmitWithoutTheSeparatorOrWithABadMasterIsRefusedBeforeAnyBuild()
            throws IOException, InterruptedException {
        Process bash = new ProcessBuilder("bash", "jobs/spark-submit", "--master", "local[2]", "run", "--q", "q.npy")
                .redirectErrorStream(true).start();
        String output = new String(bash.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(bash.waitFor(50, TimeUnit.SECONDS), "jobs/spark-submit did not end");
        assertEquals(2, bash.exitValue(), output);
        assertTrue(output.contains("the command goes after '--'"), output);
        assertFalse(output.contains("building"), output);
        // A malformed master, size or count, as an option or a setting: refused here, not with spark-submit's
        // stack trace.
        Map<List<String>, String> masters = Map.of(
                List.of("--master", "bogus"), "master 'bogus': expected local[N], spark://host:port",
                List.of("--conf", "spark.master=bogus"), "master 'bogus': expected local[N], spark://host:port",
                List.of("--master", "spark://127.0.0.1/"), "expected spark://host:port (no path, no trailing '/')",
                List.of("--master", "spark://127.0.0.1:99999"), "port 99999: expected 1 to 65535",
                List.of("--master"), "--master needs a value before '--'",
                List.of("--master", "local[2]", "--conf", "spark.executor.memory=lots"),
                "--conf spark.executor.memory 'lots': expected a size above 0 such as 2g or 700m",
                List.of("--master", "local[2]", "-c", "spark.driver.memory=0g"), "--conf spark.driver.memory '0g':"
                        + " expected a size above 0",
                List.of("--master", "local[2]", "--executor-cores=abc"), "--executor-cores 'abc': expected a whole number"
                        + " from 1",
                List.of("--master", "local[2]", "--num-executors", "-1"), "--num-executors '-1': expected a whole number",
                List.of("--master", "local[2]", "--deploy-mode", ""), "--deploy-mode: expected client or cluster, got an"
                        + " empty one");
        Map<List<String>, String> more = Map.of(
                List.of("--master", "local[2]", "--num-executors", "99999999999"), "--num-executors '99999999999':"
                        + " expected a whole number from 1 to 2147483647",
                // 0 executors only under dynamic allocation, as spark-submit has it; no second properties file.
                List.of("--master", "local[2]", "--num-executors", "0"), "(0 only with spark.dynamicAllocation.enabled=true)",
                List.of("--properties-file", "mine.conf"), "--properties-file: spark-submit reads one properties file",
                // --master outranks spark.master wherever either stands, as in spark-submit.
                List.of("--master", "bogus", "--conf", "spark.master=local[2]"), "master 'bogus': expected local[N]",
                // Without an installation, the project's own Spark, which has no YARN or Kubernetes module.
                List.of("--master", "yarn"), "master 'yarn' needs a Spark installation's spark-submit",
                List.of("--master", "local[2]", "--conf", "spark.submit.deployMode=cluster"),
                "deploy mode cluster needs a Spark installation's spark-submit",
                List.of("--master", "k8s://https://127.0.0.1:6443"), "the project's own Spark has no Kubernetes support",
                List.of("--master", "local[2]", "--deploy-mode", "bogus"), "deploy mode 'bogus': expected client or cluster",
                List.of("--master", "local[2]", "--conf", "foo"), "--conf 'foo': expected key=value",
                // The last spark.master setting wins, here an empty one (--master would outrank it).
                List.of("--conf", "spark.master=local[2]", "--conf", "spark.master="),
                "--conf spark.master=: expected a master URL, got an empty one");
        masters = new java.util.HashMap<>(masters);
        masters.putAll(more);
        // An IPv6 host in brackets is a host like any other; its port is still checked.
        masters.put(List.of("--master", "spark://[::1]:7077,[::1]:0"), "port 0: expected 1 to 65535");
        for (Map.Entry<List<String>, String> master : masters.entrySet()) {
            List<String> command = new java.util.ArrayList<>(List.of("bash", "jobs/spark-submit"));
            command.addAll(master.getKey());
            command.addAll(List.of("--", "run", "--q", "q.npy"));
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
            // As on a machine without a Spark installation, whatever this one has.
            builder.environment().remove("SPARK_HOME");
            builder.environment().remove("SPARK_SUBMIT");
            builder.environment().put("PATH", Arrays.stream(System.getenv("PATH").split(":"))
                    .filter(dir -> !Files.isExecutable(Path.of(dir, "spark-submit"))).collect(Collectors.joining(":")));
            Process refused = builder.start();
            String said = new String(refused.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(refused.waitFor(50, TimeUnit.SECONDS), "jobs/spark-submit did not end");
            assertEquals(2, refused.exitValue(), said);
            assertTrue(said.contains(master.getValue()), said);
            assertFalse(said.contains("building") || said.contains("\tat "), said);
        }
        ProcessBuilder missing = new ProcessBuilder("bash", "jobs/spark-submit", "--master", "local[2]", "--", "run")
                .redirectErrorStream(true);
        missing.environment().put("SPARK_SUBMIT", "/nonexistent/spark-submit");
        Process noSubmit = missing.start();
        String said = new String(noSubmit.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(noSubmit.waitFor(50, TimeUnit.SECONDS), "jobs/spark-submit did not end");
        assertEquals(2, noSubmit.exitValue(), said);
        assertTrue(said.contains("SPARK_SUBMIT=/nonexistent/spark-submit: no such program"), said);
        assertFalse(said.contains("building"), said);
    }

    /**
     * With a Spark installation, its {@code spark-defaults.conf} counts where neither an option
     * nor {@code conf/spark-cluster.conf} says: dynamic allocation set only there allows 0
     * executors. Run on a copy of the scripts with a built-looking {@code target/} and a stand-in
     * installation whose spark-submit prints what it was given.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void sparkSubmitReadsTheInstallationsDefaults(@TempDir Path dir) throws IOException, InterruptedException {
        Path root = dir.resolve("project");
        for (String file : List.of("jobs/spark-submit", "jobs/lib/build.bash", "conf/spark-cluster.conf",
                "conf/jit.options", "conf/log4j2.properties", "pom.xml")) {
            Files.createDirectories(root.resolve(file).getParent());
            Files.copy(Path.of(file), root.resolve(file));
        }
        Files.createDirectories(root.resolve("src/main"));
        Files.createDirectories(root.resolve("target/spark-home/jars"));
        Files.writeString(root.resolve("target/sparse-attention-app.jar"), "");
        Path installation = dir.resolve("spark");
        Path submit = installation.resolve("bin/spark-submit");
        Files.createDirectories(submit.getParent());
        Files.writeString(submit, "#!/bin/sh\necho \"submitted: $*\"\n");
        Files.setPosixFilePermissions(submit, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.createDirectories(installation.resolve("conf"));
        List<String> zero = List.of("--master", "local[2]", "--num-executors", "0");
        String refused = submit(root, submit, zero);
        assertTrue(refused.contains("--num-executors '0': expected a whole number from 1") && refused.endsWith("(exit 2)"),
                refused);
        Files.writeString(installation.resolve("conf/spark-defaults.conf"), "spark.dynamicAllocation.enabled  true\n");
        String accepted = submit(root, submit, zero);
        assertTrue(accepted.startsWith("submitted: --class org.sparseattention.cli.Main") && accepted.endsWith("(exit 0)"),
                accepted);
        // An installation of another Spark or Scala than the pom's is refused, naming its jar.
        Path jars = Files.createDirectories(installation.resolve("jars"));
        Files.writeString(jars.resolve("spark-core_2.12-3.5.1.jar"), "");
        String old = submit(root, submit, zero);
        assertTrue(old.startsWith("jobs/spark-submit: the Spark installation of " + submit + " (from SPARK_SUBMIT) has "
                + jars.resolve("spark-core_2.12-3.5.1.jar") + ": expected Spark 4.x on Scala 2.13") && old.endsWith("(exit 2)"),
                old);
        Files.move(jars.resolve("spark-core_2.12-3.5.1.jar"), jars.resolve("spark-core_2.13-4.1.0.jar"));
        assertTrue(submit(root, submit, zero).endsWith("(exit 0)"), "Spark 4.1 on Scala 2.13 is taken");
        // Read as Java reads a properties file: a continued line's next line is its value's, not a setting.
        Files.writeString(installation.resolve("conf/spark-defaults.conf"),
                "spark.driver.extraJavaOptions=-Da=1 \\\n  spark.dynamicAllocation.enabled true\n");
        assertTrue(submit(root, submit, zero).endsWith("(exit 2)"));
        Files.writeString(installation.resolve("conf/spark-defaults.conf"), "spark.dynamicAllocation.enabled  true\n");
        // The project's own file outranks the installation's.
        Files.writeString(root.resolve("conf/spark-cluster.conf"), "spark.dynamicAllocation.enabled false\n",
                java.nio.file.StandardOpenOption.APPEND);
        assertTrue(submit(root, submit, zero).endsWith("(exit 2)"));
        // An empty spark.master that --master outranks is no error, nor an empty --master a later one outranks.
        String outranked = submit(root, submit, List.of("--conf", "spark.master=", "--master", "local[2]"));
        assertTrue(outranked.startsWith("submitted: ") && outranked.endsWith("(exit 0)"), outranked);
        String ipv6 = submit(root, submit, List.of("--master", "spark://[::1]:7077"));
        assertTrue(ipv6.startsWith("submitted: ") && ipv6.contains("--master spark://[::1]:7077")
                && ipv6.endsWith("(exit 0)"), ipv6);
        String later = submit(root, submit, List.of("--master", "", "--master", "local[2]"));
        assertTrue(later.startsWith("submitted: ") && later.endsWith("(exit 0)"), later);
        String empty = submit(root, submit, List.of("--master", "local[2]", "--master="));
        assertTrue(empty.contains("--master: expected a master URL, got an empty one") && empty.endsWith("(exit 2)"),
                empty);
        // The project's file's executor settings are checked as options are, where no option gives them.
        String cluster = Files.readString(root.resolve("conf/spark-cluster.conf"));
        Files.writeString(root.resolve("conf/spark-cluster.conf"), cluster.replace("spark.executor.memory=4g",
                "spark.executor.memory=4x"));
        String typo = submit(root, submit, List.of("--master", "local[2]"));
        assertTrue(typo.contains("jobs/spark-submit: " + root.resolve("conf/spark-cluster.conf") + ": spark.executor.memory"
                + " '4x': expected a size above 0") && typo.endsWith("(exit 2)"), typo);
        String overridden = submit(root, submit, List.of("--master", "local[2]", "--executor-memory", "1g"));
        assertTrue(overridden.startsWith("submitted: ") && overridden.endsWith("(exit 0)"), overridden);
        Files.writeString(root.resolve("conf/spark-cluster.conf"), cluster);
        // A value from the defaults is named with its file and key, its escapes read as Java reads them.
        Files.writeString(installation.resolve("conf/spark-defaults.conf"), "spark.master spark\\://h\\:7077/\n");
        String named = submit(root, submit, List.of());
        assertTrue(named.contains("master 'spark://h:7077/': expected spark://host:port (no path, no trailing '/')"
                + " (given by " + installation.resolve("conf/spark-defaults.conf") + ": spark.master)"), named);
        // Without an installation, Spark's own SparkSubmit reads SPARK_CONF_DIR's defaults: so does the check.
        Path confDir = Files.createDirectories(dir.resolve("conf-dir"));
        Files.writeString(confDir.resolve("spark-defaults.conf"), "spark.master\tyarn\n");
        String yarn = submit(root, null, List.of(), "SPARK_CONF_DIR", confDir.toString());
        assertTrue(yarn.contains("master 'yarn' needs a Spark installation's spark-submit") && yarn.contains("(given by "
                + confDir.resolve("spark-defaults.conf") + ": spark.master)") && yarn.endsWith("(exit 2)"), yarn);
    }

    /**
     * Runs the copy of jobs/spark-submit in {@code root} with {@code submit} as the installation's
     * spark-submit (none: null, and none on the PATH either) and {@code environment}'s pairs.
     */
    private static String submit(Path root, Path submit, List<String> options, String... environment)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash", root.resolve("jobs/spark-submit").toString()));
        command.addAll(options);
        command.addAll(List.of("--", "run", "--help"));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().remove("SPARK_HOME");
        builder.environment().remove("SPARK_CONF_DIR");
        builder.environment().remove("SPARK_SUBMIT");
        if (submit != null) {
            builder.environment().put("SPARK_SUBMIT", submit.toString());
        } else {
            builder.environment().put("PATH", Arrays.stream(System.getenv("PATH").split(":"))
                    .filter(dir -> !Files.isExecutable(Path.of(dir, "spark-submit"))).collect(Collectors.joining(":")));
        }
        for (int i = 0; i < environment.length; i += 2) {
            builder.environment().put(environment[i], environment[i + 1]);
        }
        Process process = builder.start();
        String said = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(50, TimeUnit.SECONDS), "jobs/spark-submit did not end");
        return said.strip() + " (exit " + process.exitValue() + ")";
    }

    @Test
    void theEmbeddedLauncherPassesItsSparkSettingsFile() throws IOException {
        String launcher = Files.readString(Path.of("jobs/sparse-attention"));
        assertTrue(launcher.contains("-D" + SparkSetup.SPARK_SETTINGS_PROPERTY
                + "=\"$root/conf/spark-local.properties\""), "jobs/sparse-attention must name its Spark settings file");
    }

    @Test
    void clusterJavaOptionsHoldEveryJitOption() throws IOException {
        List<String> jit = jitOptions();
        Properties cluster = properties("conf/spark-cluster.conf");
        for (String key : List.of("spark.executor.defaultJavaOptions", "spark.driver.defaultJavaOptions")) {
            List<String> options = Arrays.asList(cluster.getProperty(key, "").strip().split("\\s+"));
            for (String option : jit) {
                assertTrue(options.contains(option), key + " in conf/spark-cluster.conf lacks " + option);
            }
            assertTrue(options.contains("--add-modules=jdk.incubator.vector"), key + " lacks the Vector API module");
            assertTrue(options.contains("-XX:+ExitOnOutOfMemoryError"), key + ": a JVM out of memory must end, not hang");
            String extra = key.replace("default", "extra");
            assertEquals(null, cluster.getProperty(extra), extra + " is the user's: the project's options are defaults");
        }
    }

    @Test
    void theLaunchersEndAJvmOutOfMemory() throws IOException {
        // jobs/spark-submit starts the driver itself where no spark-submit is installed.
        for (String launcher : List.of("jobs/sparse-attention", "jobs/spark-submit")) {
            assertTrue(Files.readString(Path.of(launcher)).contains(" -XX:+ExitOnOutOfMemoryError "),
                    launcher + ": a JVM out of memory must end, not hang");
        }
    }

    @Test
    void bothLaunchersWriteTheShuffleOnce() throws IOException {
        // The planner bounds each task's shuffled pieces because the launchers have Spark sort them
        // in memory (Planner.SHUFFLE_BYTES_PER_PARTITION): the two files must agree on it.
        String key = "spark.shuffle.sort.bypassMergeThreshold";
        for (String file : List.of("conf/spark-local.properties", "conf/spark-cluster.conf")) {
            assertEquals("0", properties(file).getProperty(key), key + " in " + file);
        }
    }

    /** Spark's "Lost task" warning holds the task's whole trace in its text: the console cuts it. */
    @Test
    void theConsoleCutsATraceInsideAMessageAfterSixFrames() throws IOException {
        String pattern = properties("conf/log4j2.properties").getProperty("appender.console.layout.pattern");
        PatternLayout layout = PatternLayout.newBuilder().withPattern(pattern).build();
        StringBuilder lost = new StringBuilder("Lost task 0.0 in stage 0.0: java.lang.IllegalStateException: bad");
        for (int frame = 0; frame < 20; frame++) {
            lost.append("\n\tat a.B.m").append(frame).append("(B.java:").append(frame).append(')');
        }
        String cut = layout.toSerializable(event(lost.toString()));
        assertTrue(cut.contains("WARN TaskSetManager: Lost task 0.0 in stage 0.0: java.lang.IllegalStateException: bad\n"),
                cut);
        assertTrue(cut.contains("\tat a.B.m5(B.java:5)\n\t...\n"), cut);
        assertFalse(cut.contains("m6("), cut);
        String plain = "Lost task 0.0: a message\nof two lines";
        assertTrue(layout.toSerializable(event(plain)).endsWith(": " + plain + "\n"), "a message without frames is kept");
    }

    /**
     * A task failed on bad input: its "Lost task" warning only repeats the run's last line, and is
     * left out; so is the summary of a task that was not retried. The file is loaded as log4j loads it.
     */
    @Test
    void theConsoleLeavesOutTheLostTaskWarningOfBadInputOnly() throws Exception {
        Path file = Path.of("conf/log4j2.properties");
        org.apache.logging.log4j.core.config.Configuration config;
        try (java.io.InputStream in = Files.newInputStream(file)) {
            config = new org.apache.logging.log4j.core.config.properties.PropertiesConfigurationFactory()
                    .getConfiguration(null, new org.apache.logging.log4j.core.config.ConfigurationSource(in, file.toFile()));
        }
        config.initialize();
        org.apache.logging.log4j.core.config.LoggerConfig tasks =
                config.getLoggerConfig("org.apache.spark.scheduler.TaskSetManager");
        assertEquals("org.apache.spark.scheduler.TaskSetManager", tasks.getName());
        org.apache.logging.log4j.core.Filter filter = tasks.getFilter();
        String badInput = "Lost task 0.0 in stage 0.0 (TID 0) (localhost executor driver):"
                + " org.sparseattention.errors.InvalidInputException: --q file:/x/q.npy: non-finite value NaN at batch 0,"
                + " row 10, feature 3\n\tat org.sparseattention.job.UnitRunner.read(UnitRunner.java:297)\n\t...";
        assertEquals(org.apache.logging.log4j.core.Filter.Result.DENY, filter.filter(event(badInput)));
        String other = "Lost task 0.0 in stage 0.0 (TID 0): java.lang.IllegalStateException: bad\n\tat a.B.m(B.java:1)";
        assertEquals(org.apache.logging.log4j.core.Filter.Result.NEUTRAL, filter.filter(event(other)));
        assertEquals(org.apache.logging.log4j.core.Filter.Result.DENY,
                filter.filter(event("Task 12 in stage 1.0 failed 1 times; aborting job")));
        assertEquals(org.apache.logging.log4j.core.Filter.Result.NEUTRAL,
                filter.filter(event("Task 12 in stage 1.0 failed 4 times; aborting job")));
        // A full disk in local mode: the run's last line names the directories. An executor's is kept: its
        // tasks may succeed elsewhere, and then nothing else would say a disk is full.
        String full = " org.apache.spark.SparkException: Task failed while writing rows\n\tat a.B.m(B.java:1)\n"
                + "Caused by: org.apache.hadoop.fs.FSError: java.io.IOException: No space left on device\n\tat c.D.n";
        assertEquals(org.apache.logging.log4j.core.Filter.Result.DENY, filter.filter(event("Lost task 1.0 in stage 1.0"
                + " (TID 3) (localhost executor driver):" + full)));
        assertEquals(org.apache.logging.log4j.core.Filter.Result.NEUTRAL, filter.filter(event("Lost task 1.0 in stage 1.0"
                + " (TID 3) (10.0.0.7 executor 2):" + full)));
        // Spark's "Aborting task", which the manager's warning or the last line repeats; its other errors stay.
        org.apache.logging.log4j.core.Filter utils = config.getLoggerConfig("org.apache.spark.util.Utils").getFilter();
        assertEquals(org.apache.logging.log4j.core.Filter.Result.DENY, utils.filter(event("Aborting task")));
        assertEquals(org.apache.logging.log4j.core.Filter.Result.NEUTRAL,
                utils.filter(event("Uncaught exception in thread Executor task launch worker")));
        // Spark's note on spark.local.dir, which a local run sets itself; SparkConf's other warnings stay.
        org.apache.logging.log4j.core.Filter sparkConf = config.getLoggerConfig("org.apache.spark.SparkConf").getFilter();
        assertEquals(org.apache.logging.log4j.core.Filter.Result.DENY, sparkConf.filter(event("Note that spark.local.dir"
                + " will be overridden by the value set by the cluster manager (via SPARK_LOCAL_DIRS in"
                + " standalone/kubernetes and LOCAL_DIRS in YARN).")));
        assertEquals(org.apache.logging.log4j.core.Filter.Result.NEUTRAL,
                sparkConf.filter(event("The configuration key 'spark.x' has been deprecated")));
        // Hadoop's warnings from tasks a cancelled job interrupts, and of files it could not delete.
        for (String logger : List.of("org.apache.hadoop.util.Shell",
                "org.apache.hadoop.mapreduce.lib.output.FileOutputCommitter", "org.apache.hadoop.fs.FileUtil")) {
            assertEquals(Level.ERROR, config.getLoggerConfig(logger).getLevel(), logger);
        }
    }

    private static LogEvent event(String message) {
        return Log4jLogEvent.newBuilder().setLoggerName("org.apache.spark.scheduler.TaskSetManager")
                .setLevel(Level.WARN).setMessage(new SimpleMessage(message)).build();
    }

    private static Properties properties(String file) throws IOException {
        Properties properties = new Properties();
        try (Reader in = Files.newBufferedReader(Path.of(file))) {
            properties.load(in);
        }
        return properties;
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void thisJdkKnowsEveryJitOption() throws IOException, InterruptedException {
        // Without the option that ignores unknown ones, a JVM given an option it does not know
        // refuses to start; the launchers pass it so that other HotSpot versions still run.
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        jitOptions().stream().filter(option -> !option.equals(IGNORE_UNKNOWN)).forEach(command::add);
        command.add("-version");
        Process java = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(java.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(java.waitFor(50, TimeUnit.SECONDS), "java -version did not end");
        assertEquals(0, java.exitValue(), String.join(" ", command) + "\n" + output);
        assertFalse(output.contains("CompileCommand"), output);
    }
}
