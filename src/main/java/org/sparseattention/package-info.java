/**
 * Sparse attention for very long sequences (Child et al. 2019, "Generating Long Sequences with
 * Sparse Transformers"): the in-process API {@link org.sparseattention.SparseAttention}.
 */
package org.sparseattention;
