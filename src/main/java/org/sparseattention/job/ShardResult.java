package org.sparseattention.job;

import java.io.Serializable;
import java.util.Locale;

/**
 * Final rows {@code [rowStart, rowStart + rows)} of batch item {@code batch}: output
 * {@code [rows, E]} and log-sum-exp {@code [H, rows]} (empty when the run writes none).
 */
record ShardResult(int batch, int rowStart, int rows, float[] output, float[] logSumExp) implements Serializable {

    /** Returns the file name of this shard's output; its log-sum-exp file replaces the prefix by {@code lse}. */
    String fileName(String prefix) {
        return fileName(prefix, batch, rowStart);
    }

    static String fileName(String prefix, int batch, int rowStart) {
        return String.format(Locale.ROOT, "%s-b%05d-r%010d.npy", prefix, batch, rowStart);
    }
}
