package org.sparseattention.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.plan.JobSettings;

/** Inputs read from and output written to HDFS (Hadoop's in-process mini cluster). */
@Tag("cluster")
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HdfsJobTest {

    @Test
    void hdfsInAndOutGivesTheBytesOfLocalFiles(@TempDir Path dir) throws Exception {
        JobTestSupport.writeInputs(dir.resolve("in"), 2, 130, 12, 5);
        Configuration conf = new Configuration();
        MiniDFSCluster hdfs = new MiniDFSCluster.Builder(conf, dir.resolve("hdfs").toFile()).numDataNodes(1).build();
        JavaSparkContext spark = JobTestSupport.localSpark("local[2]");
        Path sparkDir = Path.of(spark.getConf().get("spark.local.dir"));
        try {
            hdfs.waitActive();
            String root = hdfs.getURI().toString();
            FileSystem fs = hdfs.getFileSystem();
            for (String name : new String[] {"q.npy", "k.npy", "v.npy"}) {
                fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(dir.resolve("in").resolve(name).toString()),
                        new org.apache.hadoop.fs.Path(root + "/in/" + name));
            }
            JobSettings local = JobTestSupport.settings(dir.resolve("in"), dir.resolve("local"), 3, "strided,local", 9, 16,
                    3, 64, false);
            SparseAttentionJob.execute(SparseAttentionJob.prepare(local), spark, s -> { });
            JobSettings remote = local.withLocations(root + "/in/q.npy", root + "/in/k.npy", root + "/in/v.npy",
                    root + "/out/run");
            SparseAttentionJob.execute(SparseAttentionJob.prepare(remote), spark, s -> { });
            assertTrue(fs.exists(new org.apache.hadoop.fs.Path(root + "/out/run/_SUCCESS")));
            byte[] fromHdfs;
            try (InputStream in = fs.open(new org.apache.hadoop.fs.Path(root + "/out/run/output.npy"))) {
                fromHdfs = in.readAllBytes();
            }
            assertArrayEquals(Files.readAllBytes(dir.resolve("local/output.npy")), fromHdfs);

            // The name node spelled another way is the same place: an output there over the inputs is refused.
            String byName = "hdfs://localhost:" + hdfs.getNameNodePort();
            String byAddress = "hdfs://127.0.0.1:" + hdfs.getNameNodePort();
            JobSettings over = remote.withLocations(byName + "/in/q.npy", byName + "/in/k.npy", byName + "/in/v.npy",
                    byAddress + "/in");
            InvalidInputException overlap = assertThrows(InvalidInputException.class,
                    () -> SparseAttentionJob.prepare(over));
            assertTrue(overlap.getMessage().contains("overlaps the input"), overlap.getMessage());
        } finally {
            spark.stop();
            hdfs.shutdown();
            // MiniDFSCluster.shutdown clears the JVM's Hadoop shutdown hooks, the one that would delete
            // Spark's directory of this process among them.
            ProcessDirs.deleteTree(sparkDir);
        }
        assertFalse(Files.exists(sparkDir), sparkDir + " deleted");
    }
}
