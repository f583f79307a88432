/**
 * The Spark job, the only code that imports Spark: executors read their rows straight from
 * storage, compute their units with the kernel, and send outputs (never inputs) through one
 * shuffle to the output shards, where partial results are merged in (frame, chunk) order and
 * written through Hadoop's output committer.
 */
package org.sparseattention.job;
