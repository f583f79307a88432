package org.sparseattention.plan;

import java.io.Serializable;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.kernel.SparseForward;
import org.sparseattention.layout.Pattern;
import org.sparseattention.layout.Patterns;

/**
 * Everything a run needs, checked on construction.
 *
 * @param scale score scale; NaN means {@code 1/sqrt(D)}
 * @param partitions Spark partitions; 0 means the cluster's default parallelism
 * @param maxKeyBlocks key blocks of one query block computed at once; rows with more are split and merged
 * @param unitTiles tiles (over all heads) a unit of whole rows of consecutive query blocks grows to
 * @param shardRows sequence rows per output shard
 */
public record JobSettings(String q, String k, String v, String out, int heads, String mode, int localCtx,
        int blockSize, int numVerts, int vertsize, double scale, int partitions, int maxKeyBlocks, int unitTiles,
        int shardRows, boolean merge, boolean lse, boolean overwrite, boolean allowNonfinite) implements Serializable {

    public JobSettings {
        atLeastOne("--heads", heads);
        atLeastOne("--block-size", blockSize);
        atLeastOne("--num-verts", numVerts);
        atLeastOne("--vertsize", vertsize);
        atLeastOne("--max-key-blocks", maxKeyBlocks);
        atLeastOne("--unit-tiles", unitTiles);
        atLeastOne("--shard-rows", shardRows);
        if (partitions < 0) {
            throw new InvalidInputException("--partitions must be >= 0 (0: the default), got " + partitions);
        }
        if (!Double.isNaN(scale)) {
            SparseForward.checkScale("--scale", scale);
        }
        Patterns.parse(mode, localCtx, blockSize, numVerts, vertsize);
        mode = Patterns.canonical(mode);
    }

    /** Refuses {@code value} of {@code option} below 1, naming both: the check of every size option. */
    public static void atLeastOne(String option, int value) {
        if (value < 1) {
            throw new InvalidInputException(option + " must be >= 1, got " + value);
        }
    }

    /** Returns these settings with other input and output locations (e.g. fully qualified URIs). */
    public JobSettings withLocations(String q, String k, String v, String out) {
        return new JobSettings(q, k, v, out, heads, mode, localCtx, blockSize, numVerts, vertsize, scale, partitions,
                maxKeyBlocks, unitTiles, shardRows, merge, lse, overwrite, allowNonfinite);
    }

    /** Returns the pattern the mode names. */
    public Pattern pattern() {
        return Patterns.parse(mode, localCtx, blockSize, numVerts, vertsize);
    }

    /** Returns the score scale for head dimension {@code headDim}. */
    public float scaleFor(int headDim) {
        return (float) (Double.isNaN(scale) ? 1.0 / Math.sqrt(headDim) : scale);
    }
}
