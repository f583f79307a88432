package org.sparseattention.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

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
}
