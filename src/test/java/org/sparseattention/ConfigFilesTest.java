package org.sparseattention;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** The cluster properties repeat the launchers' JIT options for drivers and executors. */
class ConfigFilesTest {

    @Test
    void clusterJavaOptionsHoldEveryJitOption() throws IOException {
        List<String> jit = Files.readAllLines(Path.of("conf/jit.options")).stream()
                .map(String::strip)
                .filter(line -> !line.isEmpty() && !line.startsWith("#"))
                .toList();
        assertFalse(jit.isEmpty(), "conf/jit.options lists no option");
        Properties cluster = new Properties();
        try (Reader in = Files.newBufferedReader(Path.of("conf/spark-cluster.conf"))) {
            cluster.load(in);
        }
        for (String key : List.of("spark.executor.extraJavaOptions", "spark.driver.extraJavaOptions")) {
            List<String> options = Arrays.asList(cluster.getProperty(key, "").strip().split("\\s+"));
            for (String option : jit) {
                assertTrue(options.contains(option), key + " in conf/spark-cluster.conf lacks " + option);
            }
        }
    }
}
