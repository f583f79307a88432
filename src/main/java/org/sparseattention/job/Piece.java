package org.sparseattention.job;

import java.io.Serializable;

/**
 * The part of one unit's partial result that falls in one output shard: what the shuffle carries.
 * {@code allowedPairs} is the unit's useful work, carried by one piece per unit.
 */
record Piece(int frame, int chunk, int unit, int[] positions, float[] output, float[] logSumExp, long allowedPairs)
        implements Serializable, Comparable<Piece> {

    /** Orders pieces for merging: by frame, then chunk (SEMANTICS.md), then unit. */
    @Override
    public int compareTo(Piece other) {
        int byFrame = Integer.compare(frame, other.frame);
        if (byFrame != 0) {
            return byFrame;
        }
        int byChunk = Integer.compare(chunk, other.chunk);
        return byChunk != 0 ? byChunk : Integer.compare(unit, other.unit);
    }
}
