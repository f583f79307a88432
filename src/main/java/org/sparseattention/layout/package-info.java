/**
 * Attention patterns and their block layouts, in plain Java.
 *
 * <p>The token rules are those of the reference code of "Generating Long Sequences with Sparse
 * Transformers" (Child et al. 2019): {@code all}, {@code local}, {@code strided} and
 * {@code fixed}, plus unions and per-head lists. A {@link org.sparseattention.layout.BlockLayout}
 * turns a pattern into the (query block, key block) tiles to compute, per head, in the row order
 * ({@link org.sparseattention.layout.Frame}) where the pattern is block-dense: the original order
 * for {@code all}, {@code local} and {@code fixed}, the residue order {@code t mod l} for
 * {@code strided}. README.md, "The patterns", gives the exact rules.
 */
package org.sparseattention.layout;
