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
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The launchers' JIT options: known to this JDK, and repeated for drivers and executors. */
class ConfigFilesTest {
    private static final String IGNORE_UNKNOWN = "-XX:+IgnoreUnrecognizedVMOptions";

    private static List<String> jitOptions() throws IOException {
        // The launchers read the file line by line as it is: no blanks around an option, and a
        // last line without its newline would be dropped.
        String text = Files.readString(Path.of("conf/jit.options"));
        assertTrue(text.endsWith("\n"), "conf/jit.options must end with a newline");
        List<String> options = text.lines()
                .filter(line -> !line.isEmpty() && !line.startsWith("#"))
                .toList();
        for (String option : options) {
            assertEquals(option.strip(), option, "blanks around an option in conf/jit.options");
        }
        assertFalse(options.isEmpty(), "conf/jit.options lists no option");
        return options;
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
    void theEmbeddedLauncherEndsAJvmOutOfMemory() throws IOException {
        assertTrue(Files.readString(Path.of("jobs/sparse-attention")).contains(" -XX:+ExitOnOutOfMemoryError "),
                "jobs/sparse-attention: a JVM out of memory must end, not hang");
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
