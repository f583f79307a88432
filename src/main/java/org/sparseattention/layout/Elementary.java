package org.sparseattention.layout;

import java.util.List;

/**
 * One of the paper's four patterns, which knows its tiles in its own row order.
 */
public sealed interface Elementary extends Pattern
        permits AllPattern, LocalPattern, StridedPattern, FixedPattern {

    /** Returns the stride of the frame where this pattern is block-dense (1: original order). */
    int frameStride();

    /**
     * Appends the key blocks of {@code queryBlock} (in frame order, ascending) to {@code out},
     * flagging tiles whose every pair is allowed as full.
     */
    void addTiles(int head, BlockGrid grid, int queryBlock, TileList out);

    /**
     * Returns whether any pair of original positions in {@code [iMin, iMax] x [jMin, jMax]} may
     * be allowed; may answer true when none is (it only decides whether a tile needs a mask).
     */
    boolean mayAllowAny(int head, int iMin, int iMax, int jMin, int jMax);

    /** Marks a key set that is not one interval of frame rows. */
    int NOT_AN_INTERVAL = Integer.MIN_VALUE;

    /**
     * Returns the first frame row of the keys that query frame row {@code row} may attend in
     * this pattern's own frame: within the tiles it lists as partial, it may attend exactly the
     * frame rows {@code [result, row]} (every pattern here is causal and includes the query
     * itself); tiles listed as full, such as {@code fixed}'s summary columns, need no rule.
     */
    int firstAllowedInOwnFrame(int head, Frame frame, int row);

    /**
     * In a frame of another stride, returns the first frame row {@code r0} such that, among the
     * keys of {@code row}'s residue class up to {@code row}, this pattern allows exactly those in
     * {@code [r0, row]}; or {@link #NOT_AN_INTERVAL}, for every row of the frame alike (the layout
     * asks row 0 only).
     */
    default int firstAllowedInClass(int head, Frame frame, int row) {
        return NOT_AN_INTERVAL;
    }

    @Override
    default List<Elementary> elementsFor(int head) {
        return List.of(this);
    }

    @Override
    default void checkHeads(int heads) {
    }

    /** Checks a constraint on the layout's block size; throws InvalidInputException. None but {@code fixed}'s. */
    default void checkBlockSize(int blockSize) {
    }
}
