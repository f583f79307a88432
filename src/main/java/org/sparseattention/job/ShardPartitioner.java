package org.sparseattention.job;

import org.apache.spark.Partitioner;

/**
 * One reduce partition per output shard: a reduce task holds the pieces of one shard only, so
 * its memory does not grow with the sequence length.
 */
final class ShardPartitioner extends Partitioner {
    private static final long serialVersionUID = 1L;
    private final int shards;

    ShardPartitioner(int shards) {
        this.shards = shards;
    }

    @Override
    public int numPartitions() {
        return shards;
    }

    @Override
    public int getPartition(Object key) {
        return (Integer) key;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof ShardPartitioner p && p.shards == shards;
    }

    @Override
    public int hashCode() {
        return Integer.hashCode(shards);
    }
}
