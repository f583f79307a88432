package org.sparseattention.job;

import java.io.Serializable;
import org.sparseattention.plan.WorkUnit;

/**
 * The shuffle's key of a {@link Piece}: its output shard, which {@link ShardPartitioner} sends it
 * by, then its place in the shard's merge order (frame, chunk, unit; README.md, "What is
 * computed"), which the shuffle sorts each shard's pieces by, spilling to disk where they do not
 * fit in memory, so that a shard task merges them one at a time.
 */
record PieceKey(int shard, int frame, int chunk, int unit) implements Serializable, Comparable<PieceKey> {

    /** Returns the key of the piece of {@code unit}'s results that falls in {@code shard}. */
    static PieceKey of(int shard, WorkUnit unit) {
        return new PieceKey(shard, unit.frame(), unit.chunk(), unit.index());
    }

    /** Returns a key before every piece of {@code shard} and after every piece of the shards before. */
    static PieceKey first(int shard) {
        return new PieceKey(shard, Integer.MIN_VALUE, Integer.MIN_VALUE, Integer.MIN_VALUE);
    }

    @Override
    public int compareTo(PieceKey other) {
        int byShard = Integer.compare(shard, other.shard);
        if (byShard != 0) {
            return byShard;
        }
        int byFrame = Integer.compare(frame, other.frame);
        if (byFrame != 0) {
            return byFrame;
        }
        int byChunk = Integer.compare(chunk, other.chunk);
        return byChunk != 0 ? byChunk : Integer.compare(unit, other.unit);
    }
}
