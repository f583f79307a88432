package org.sparseattention.plan;

import java.io.Serializable;

/**
 * One piece of work: query blocks {@code [fromBlock, toBlock)} of {@code frame} in batch item
 * {@code batch}, all heads, over the key tiles at positions {@code [fromKey, toKey)} of each query
 * block's tile list ({@code chunk} numbers that range; 0 and everything when the rows are whole).
 */
public record WorkUnit(int index, int batch, int frame, int fromBlock, int toBlock, int chunk, int fromKey,
        int toKey, long tiles) implements Serializable {

    /** Returns whether this unit holds only one chunk of its rows' keys. */
    public boolean isSplit() {
        return chunk > 0 || toKey != Integer.MAX_VALUE;
    }

    /** Returns a short name for messages and the Spark UI. */
    public String describe() {
        return "unit " + index + " (batch " + batch + ", frame " + frame + ", query blocks " + fromBlock + ".."
                + (toBlock - 1) + (isSplit() ? ", key chunk " + chunk : "") + ")";
    }
}
