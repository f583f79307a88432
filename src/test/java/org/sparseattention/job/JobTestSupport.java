package org.sparseattention.job;

import java.io.IOException;
import java.nio.file.Path;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.sparseattention.TestArrays;
import org.sparseattention.plan.JobSettings;

/** Inputs on disk and settings for the job tests. */
final class JobTestSupport {
    private JobTestSupport() {
    }

    /** Writes q, k, v of shape {@code [batch, seqLen, features]} into {@code dir}. */
    static float[][] writeInputs(Path dir, int batch, int seqLen, int features, long seed) throws IOException {
        float[][] qkv = new float[3][];
        String[] names = {"q.npy", "k.npy", "v.npy"};
        for (int t = 0; t < 3; t++) {
            qkv[t] = TestArrays.normal(seed + t, batch * seqLen * features);
            TestArrays.writeNpy(dir.resolve(names[t]), new long[] {batch, seqLen, features}, qkv[t]);
        }
        return qkv;
    }

    static JobSettings settings(Path in, Path out, int heads, String mode, int context, int blockSize,
            int partitions, int maxKeyBlocks, boolean overwrite) {
        return settings(in, out, heads, mode, context, blockSize, 1, partitions, maxKeyBlocks, overwrite);
    }

    /** {@link #settings} with {@code fixed}'s num_verts (vertsize 1). */
    static JobSettings settings(Path in, Path out, int heads, String mode, int context, int blockSize, int numVerts,
            int partitions, int maxKeyBlocks, boolean overwrite) {
        return new JobSettings(in.resolve("q.npy").toString(), in.resolve("k.npy").toString(),
                in.resolve("v.npy").toString(), out.toString(), heads, mode, context, blockSize, numVerts, 1, Double.NaN,
                partitions, maxKeyBlocks, 64, 50, true, true, overwrite, false);
    }

    static JavaSparkContext localSpark(String master) {
        SparkConf conf = new SparkConf(false).setMaster(master).setAppName("sparse-attention-test")
                .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
                .set("spark.ui.enabled", "false").set("spark.ui.showConsoleProgress", "false")
                // As the launchers run the job (conf/spark-local.properties): the shuffle sorted in memory.
                .set("spark.shuffle.sort.bypassMergeThreshold", "0");
        // As a local run does: Spark's directories in one of this JVM's own, deleted as it exits. Spark
        // keeps the first local directories a JVM used, another test's here, which may be gone.
        SparkSetup.ownLocalDir(conf);
        org.apache.spark.util.Utils$.MODULE$.clearLocalRootDirs();
        return new JavaSparkContext(conf);
    }
}
