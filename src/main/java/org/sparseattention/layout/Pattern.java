package org.sparseattention.layout;

import java.util.List;

/**
 * An attention pattern: which key positions each query position may attend, per head.
 *
 * <p>Positions are 0-based; {@code allows(h, i, j)} is the token rule of README.md, "The patterns".
 */
public sealed interface Pattern extends java.io.Serializable permits Elementary, UnionPattern, PerHeadPattern {

    /** Returns whether query {@code query} of head {@code head} may attend key {@code key}. */
    boolean allows(int head, int query, int key);

    /** Returns the elementary patterns whose union is this pattern for {@code head}. */
    List<Elementary> elementsFor(int head);

    /** Checks constraints that depend on the number of heads; throws InvalidInputException. */
    default void checkHeads(int heads) {
        for (int h = 0; h < heads; h++) {
            for (Elementary e : elementsFor(h)) {
                e.checkHeads(heads);
            }
        }
    }

    /**
     * Checks what a layout of this pattern with {@code heads} heads and blocks of {@code blockSize}
     * needs, whatever the sequence's length: {@link #checkHeads}, and every head's elements'
     * {@link Elementary#checkBlockSize}; throws InvalidInputException naming both values.
     */
    default void checkLayout(int heads, int blockSize) {
        checkHeads(heads);
        for (int h = 0; h < heads; h++) {
            for (Elementary e : elementsFor(h)) {
                e.checkBlockSize(blockSize);
            }
        }
    }

    /** Returns a short text form, as accepted by {@link Patterns#parse}. */
    String describe();

    /** Dense causal attention: {@code j <= i}. */
    static Pattern all() {
        return new AllPattern();
    }

    /** The last {@code context} positions, self included; {@code context <= 0} means all. */
    static Pattern local(int context) {
        return new LocalPattern(context);
    }

    /** Every {@code stride}-th earlier position, self included; {@code stride >= 1}. */
    static Pattern strided(int stride) {
        return new StridedPattern(stride);
    }

    /**
     * The paper's fixed pattern: own window of {@code context} positions plus per-head summary
     * columns of earlier windows. {@code context} is a positive multiple of {@code blockSize}, its
     * {@code S = context / blockSize} blocks a multiple of {@code vertsize}, and {@code numVerts *
     * vertsize <= S}; the heads of a layout must be a multiple of {@code numVerts}, and its block
     * size {@code blockSize} (the summary columns are counted in blocks).
     */
    static Pattern fixed(int context, int blockSize, int numVerts, int vertsize) {
        return new FixedPattern(context, blockSize, numVerts, vertsize);
    }

    /** Union inside every head: a pair is allowed when any part allows it. */
    static Pattern union(Pattern... parts) {
        // Not List.of, whose NullPointerException would name no part.
        return new UnionPattern(parts == null ? null : java.util.Arrays.asList(parts));
    }

    /** Per-head mix: head {@code h} uses {@code patterns.get(h mod patterns.size())}. */
    static Pattern perHead(List<Pattern> patterns) {
        return new PerHeadPattern(patterns);
    }
}
