/**
 * Block-sparse attention (tile products on the JDK's Vector API), dense attention on ND4J, a
 * float64 reference, and the exact merge of partial results.
 *
 * <p>Each query row is a softmax over its allowed keys (README.md, "What is computed"): {@code o_i = sum_j p_ij v_j},
 * {@code p_ij = exp(s_ij - lse_i)}, {@code s_ij = scale * q_i . k_j}. Partial results over
 * disjoint key sets combine with the log-sum-exp rule
 * {@code lse = M + log sum_c exp(lse_c - M)}, {@code o = sum_c exp(lse_c - lse) o_c}
 * (the online softmax of Milakov and Gimelshein 2018, as used by FlashAttention).
 * This package knows nothing of Spark or Hadoop: kernels receive arrays.
 */
package org.sparseattention.kernel;
