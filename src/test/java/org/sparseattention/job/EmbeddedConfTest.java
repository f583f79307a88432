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

class EmbeddedConfTest {
    @Test
    void onlyALocalRunIsKeptOnLoopback() {
        SparkConf local = SparseAttentionJob.embeddedConf("test", "local[3]");
        assertEquals("local[3]", local.get("spark.master"));
        assertEquals("127.0.0.1", local.get("spark.driver.host"));
        assertEquals("127.0.0.1", local.get("spark.driver.bindAddress"));
        // Executors on other machines must reach the driver at the address the cluster gives it.
        SparkConf cluster = SparseAttentionJob.embeddedConf("test", "spark://10.1.2.3:7077");
        assertEquals("spark://10.1.2.3:7077", cluster.get("spark.master"));
        assertFalse(cluster.contains("spark.driver.host"));
        assertFalse(cluster.contains("spark.driver.bindAddress"));
    }

    /** The launcher's settings file, read as Java reads properties; the command line wins over it. */
    @Test
    void aSettingsFileIsReadAsPropertiesAndTheCommandLineWins(@TempDir Path dir) throws IOException {
        // Spaces around the separator, a ':' separator, a '!' comment, and a last line without a newline.
        Path file = Files.writeString(dir.resolve("spark.properties"), "# settings\n! also a comment\n"
                + "spark.master = local[1]\nspark.task.maxFailures: 7\nspark.shuffle.compress=false");
        SparkConf fromFile = SparseAttentionJob.embeddedConf("test", null, file.toString());
        assertEquals("local[1]", fromFile.get("spark.master"));
        assertEquals("7", fromFile.get("spark.task.maxFailures"));
        assertEquals("false", fromFile.get("spark.shuffle.compress"));
        assertEquals("127.0.0.1", fromFile.get("spark.driver.host"));
        assertEquals("local[3]", SparseAttentionJob.embeddedConf("test", "local[3]", file.toString()).get("spark.master"));
        Path missing = dir.resolve("none.properties");
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> SparseAttentionJob.embeddedConf("test", null, missing.toString()));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    }
}
