package org.sparseattention.job;

import java.util.Arrays;
import java.util.List;
import org.apache.spark.Partitioner;

/**
 * One reduce partition per output shard, in the plan's shard order (partition {@code p} holds
 * shard {@code order.get(p)}), by a {@link PieceKey}'s shard: a task gets the pieces of one shard
 * only, sorted in merge order, and merges them one at a time.
 */
final class ShardPartitioner extends Partitioner {
    private static final long serialVersionUID = 1L;
    private final int[] partitionOfShard;

    ShardPartitioner(List<Integer> order) {
        partitionOfShard = new int[order.size()];
        for (int p = 0; p < order.size(); p++) {
            partitionOfShard[order.get(p)] = p;
        }
    }

    @Override
    public int numPartitions() {
        return partitionOfShard.length;
    }

    @Override
    public int getPartition(Object key) {
        return partitionOfShard[((PieceKey) key).shard()];
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof ShardPartitioner p && Arrays.equals(p.partitionOfShard, partitionOfShard);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(partitionOfShard);
    }
}
