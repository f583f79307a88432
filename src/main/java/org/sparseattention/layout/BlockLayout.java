package org.sparseattention.layout;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.sparseattention.errors.InvalidInputException;

/**
 * The tiles to compute for a pattern, a sequence length, a block size and a number of heads.
 *
 * <p>Each head's pattern is split by frame: the elementary patterns that are block-dense in the
 * same row order are computed together in that frame. Frames are ordered (original order first,
 * then residue frames by stride) and a pair already allowed in an earlier frame of the same head
 * is masked out in later ones, so the frames' partial results add up to the union exactly.
 */
public final class BlockLayout {
    /** Longest sequence whose original-order grid {@link #originalGrid} computes (pair by pair). */
    public static final int MAX_GRID_LENGTH = 16384;
    private final Pattern pattern;
    private final int heads;
    private final List<BlockGrid> grids;
    /** components[frame][head]: the head's elements in that frame (empty when none). */
    private final List<List<List<Elementary>>> components;
    /** earlier[frame][head]: the head's elements in earlier frames. */
    private final List<List<List<Elementary>>> earlier;
    /** The same two, as arrays for the per-pair token rule. */
    private final Elementary[][][] mineArrays;
    private final Elementary[][][] earlierArrays;
    /** Whether a query row's allowed keys in a frame form one interval of frame rows, per frame and head. */
    private final boolean[][] intervals;
    /**
     * Per frame whose heads have elements in earlier frames (null for the others): the smallest and
     * the largest original position of each block, {@code [2 * block]} and {@code [2 * block + 1]},
     * which {@link #keyBlocks} checks the earlier elements against for every tile (from the
     * frame's row arithmetic each time, they were a third of planning at L=1,048,576).
     */
    private final int[][] blockBounds;

    private BlockLayout(Pattern pattern, int seqLen, int blockSize, int heads) {
        this.pattern = pattern;
        this.heads = heads;
        List<List<Elementary>> elements = new ArrayList<>();
        TreeSet<Integer> strides = new TreeSet<>();
        for (int h = 0; h < heads; h++) {
            elements.add(computed(pattern.elementsFor(h), seqLen));
            for (Elementary e : elements.get(h)) {
                strides.add(e.frameStride());
            }
        }
        this.grids = new ArrayList<>();
        this.components = new ArrayList<>();
        this.earlier = new ArrayList<>();
        for (int stride : strides) {
            grids.add(new BlockGrid(new Frame(seqLen, stride), blockSize));
            List<List<Elementary>> byHead = new ArrayList<>();
            List<List<Elementary>> before = new ArrayList<>();
            for (int h = 0; h < heads; h++) {
                List<Elementary> mine = new ArrayList<>();
                List<Elementary> previous = new ArrayList<>();
                for (Elementary e : elements.get(h)) {
                    int s = e.frameStride();
                    if (s == stride) {
                        mine.add(e);
                    } else if (s < stride) {
                        previous.add(e);
                    }
                }
                byHead.add(List.copyOf(mine));
                before.add(List.copyOf(previous));
            }
            components.add(byHead);
            earlier.add(before);
        }
        this.mineArrays = new Elementary[grids.size()][heads][];
        this.earlierArrays = new Elementary[grids.size()][heads][];
        this.intervals = new boolean[grids.size()][heads];
        this.blockBounds = new int[grids.size()][];
        for (int f = 0; f < grids.size(); f++) {
            for (int h = 0; h < heads; h++) {
                mineArrays[f][h] = components.get(f).get(h).toArray(new Elementary[0]);
                earlierArrays[f][h] = earlier.get(f).get(h).toArray(new Elementary[0]);
                intervals[f][h] = true;
                // Decided from row 0: whether a pattern's keys in a class are an interval depends on
                // the frame's stride alone, never on the row (Elementary#firstAllowedInClass).
                for (Elementary e : earlierArrays[f][h]) {
                    if (e.firstAllowedInClass(h, grids.get(f).frame(), 0) == Elementary.NOT_AN_INTERVAL) {
                        intervals[f][h] = false;
                    }
                }
                if (earlierArrays[f][h].length > 0 && blockBounds[f] == null) {
                    blockBounds[f] = bounds(grids.get(f));
                }
            }
        }
    }

    /**
     * Returns the elements of a head that add pairs to compute: with {@code all} among them (or
     * {@code local} with a window of 0 or less, or of at least {@code seqLen}: the same pairs),
     * which allows every pair any causal pattern does, only the original order's elements (a
     * residue frame would compute tiles whose every pair it then masks out).
     */
    private static List<Elementary> computed(List<Elementary> elements, int seqLen) {
        if (elements.stream().noneMatch(e -> e instanceof AllPattern
                || e instanceof LocalPattern l && (l.context() <= 0 || l.context() >= seqLen))) {
            return elements;
        }
        return elements.stream().filter(e -> e.frameStride() == 1).toList();
    }

    /** Returns the smallest and the largest original position of every block of {@code grid}. */
    private static int[] bounds(BlockGrid grid) {
        int[] bounds = new int[2 * grid.numBlocks()];
        for (int b = 0; b < grid.numBlocks(); b++) {
            int[] range = grid.frame().originalBounds(grid.blockStart(b), grid.blockEnd(b));
            bounds[2 * b] = range[0];
            bounds[2 * b + 1] = range[1];
        }
        return bounds;
    }

    /** Returns the layout of {@code pattern}; checks every argument and names the bad one. */
    public static BlockLayout of(Pattern pattern, int seqLen, int blockSize, int heads) {
        if (pattern == null) {
            throw new InvalidInputException("pattern must not be null");
        }
        if (seqLen < 1) {
            throw new InvalidInputException("sequence length must be >= 1, got " + seqLen);
        }
        if (blockSize < 1) {
            throw new InvalidInputException("block size must be >= 1, got " + blockSize);
        }
        if (heads < 1) {
            throw new InvalidInputException("heads must be >= 1, got " + heads);
        }
        // Per-block tables hold two ints per block.
        if ((seqLen - 1L) / blockSize + 1 > 1 << 29) {
            throw new InvalidInputException("sequence length " + seqLen + " at block size " + blockSize + ": "
                    + ((seqLen - 1L) / blockSize + 1) + " blocks, more than the " + (1 << 29) + " a layout holds;"
                    + " choose a larger block size");
        }
        pattern.checkLayout(heads, blockSize);
        return new BlockLayout(pattern, seqLen, blockSize, heads);
    }

    public Pattern pattern() {
        return pattern;
    }

    public int heads() {
        return heads;
    }

    public int seqLen() {
        return grids.get(0).seqLen();
    }

    public int blockSize() {
        return grids.get(0).blockSize();
    }

    public int numBlocks() {
        return grids.get(0).numBlocks();
    }

    /** Returns the number of frames; frame 0 is the original order when any head uses it. */
    public int frameCount() {
        return grids.size();
    }

    public BlockGrid grid(int frame) {
        return grids.get(frame);
    }

    /**
     * Fills {@code out} with the key blocks of {@code queryBlock} for {@code head} in
     * {@code frame}, ascending, each flagged full when no mask is needed. A tile none of whose pairs
     * is left to this frame (earlier frames hold them all) is not listed, and the list may be empty.
     */
    public void keyBlocks(int frame, int head, int queryBlock, TileList out) {
        out.clear();
        List<Elementary> mine = components.get(frame).get(head);
        if (mine.isEmpty()) {
            return;
        }
        BlockGrid grid = grids.get(frame);
        for (Elementary e : mine) {
            e.addTiles(head, grid, queryBlock, out);
        }
        if (mine.size() > 1) {
            out.normalize();
        }
        List<Elementary> before = earlier.get(frame).get(head);
        if (before.isEmpty()) {
            return;
        }
        int[] bounds = blockBounds[frame];
        int queryLow = bounds[2 * queryBlock];
        int queryHigh = bounds[2 * queryBlock + 1];
        int kept = 0;
        for (int t = 0; t < out.size(); t++) {
            int kb = out.keyBlock(t);
            boolean full = out.isFull(t);
            for (Elementary e : before) {
                if (e.mayAllowAny(head, queryLow, queryHigh, bounds[2 * kb], bounds[2 * kb + 1])) {
                    // Earlier frames may have taken every pair of the tile: then it is not computed.
                    if (allowedPairs(frame, head, grid, queryBlock, kb, 1) == 0) {
                        kb = -1;
                    }
                    full = false;
                    break;
                }
            }
            if (kb >= 0) {
                out.set(kept++, kb, full);
            }
        }
        out.truncate(kept);
    }

    /** Returns the longest tile list of {@code queryBlock} in {@code frame} over all heads. */
    public int maxTiles(int frame, int queryBlock, TileList scratch) {
        int max = 0;
        for (int h = 0; h < heads; h++) {
            keyBlocks(frame, h, queryBlock, scratch);
            max = Math.max(max, scratch.size());
        }
        return max;
    }

    /**
     * Returns whether frame row {@code queryRow} may attend frame row {@code keyRow} in this
     * frame's share of the work: allowed by the head's pattern here and by none of its earlier
     * frames.
     */
    public boolean allowed(int frame, int head, int queryRow, int keyRow) {
        Frame f = grids.get(frame).frame();
        return allowedPositions(frame, head, f.original(queryRow), f.original(keyRow));
    }

    /**
     * Returns whether the keys that a query row may attend in this frame's share (inside the
     * listed tiles) are one interval of frame rows: {@link #firstAllowedRow} to
     * {@link #lastAllowedRow}. When false, use {@link #allowed} pair by pair.
     */
    public boolean hasIntervals(int frame, int head) {
        return intervals[frame][head];
    }

    /** Returns the first key frame row that query frame row {@code row} may attend here (see {@link #hasIntervals}). */
    public int firstAllowedRow(int frame, int head, int row) {
        Frame f = grids.get(frame).frame();
        int first = row;
        for (Elementary e : mineArrays[frame][head]) {
            first = Math.min(first, e.firstAllowedInOwnFrame(head, f, row));
        }
        return first;
    }

    /**
     * Returns the last key frame row that query frame row {@code row} may attend here: the row
     * itself, or less when earlier frames already cover the keys from some row on.
     */
    public int lastAllowedRow(int frame, int head, int row) {
        Frame f = grids.get(frame).frame();
        int last = row;
        for (Elementary e : earlierArrays[frame][head]) {
            last = Math.min(last, e.firstAllowedInClass(head, f, row) - 1);
        }
        return last;
    }

    /**
     * Returns {@link #allowed} for sequence positions {@code query} and {@code key} (not frame
     * rows): the form for inner loops that map rows once.
     */
    public boolean allowedPositions(int frame, int head, int query, int key) {
        boolean mine = false;
        for (Elementary e : mineArrays[frame][head]) {
            if (e.allows(head, query, key)) {
                mine = true;
                break;
            }
        }
        if (!mine) {
            return false;
        }
        for (Elementary e : earlierArrays[frame][head]) {
            if (e.allows(head, query, key)) {
                return false;
            }
        }
        return true;
    }

    /** Returns the number of tiles over all frames, heads and query blocks: {@link #stats} without counting pairs. */
    public long tileCount() {
        long count = 0;
        TileList list = new TileList();
        for (int f = 0; f < grids.size(); f++) {
            for (int h = 0; h < heads; h++) {
                for (int qb = 0; qb < grids.get(f).numBlocks(); qb++) {
                    keyBlocks(f, h, qb, list);
                    count += list.size();
                }
            }
        }
        return count;
    }

    /**
     * Returns an estimate of the tiles {@link #stats} lists (every frame and head), from 61 query
     * blocks of each grid at an irrational spacing (evenly spaced ones fall on one residue class's
     * place in every class of a reordered frame), or, as soon as it passes {@code limit}, what it
     * has counted so far. Each sampled block's list costs its length, so a layout far too large to
     * count is told in milliseconds.
     */
    public double estimatedTiles(long limit) {
        double estimate = 0;
        TileList list = new TileList();
        for (int f = 0; f < grids.size(); f++) {
            int nb = grids.get(f).numBlocks();
            int samples = Math.min(nb, 61);
            for (int h = 0; h < heads; h++) {
                for (int s = 0; s < samples; s++) {
                    // The fractional parts of s times the golden ratio spread over [0, 1) without a period.
                    double at = (s + 0.5) * 0.6180339887498949 % 1.0;
                    keyBlocks(f, h, samples == nb ? s : (int) (at * nb), list);
                    estimate += (double) list.size() * nb / samples;
                    if (estimate > limit) {
                        return estimate;
                    }
                }
            }
        }
        return estimate;
    }

    /** Returns the tile and pair counts of this layout; partial tiles are counted pair by pair. */
    public LayoutStats stats() {
        return stats(Long.MAX_VALUE);
    }

    /**
     * Returns the counts of {@link #stats()}, or null once counting them has cost more than
     * {@code maxWork}: tiles listed, and for partial tiles the rows or pairs checked.
     */
    public LayoutStats stats(long maxWork) {
        long work = 0;
        long[] tiles = new long[heads];
        long[] fullTiles = new long[heads];
        long[] pairs = new long[heads];
        long[] frameTiles = new long[grids.size()];
        TileList list = new TileList();
        for (int f = 0; f < grids.size(); f++) {
            BlockGrid grid = grids.get(f);
            for (int h = 0; h < heads; h++) {
                boolean intervals = hasIntervals(f, h);
                for (int qb = 0; qb < grid.numBlocks(); qb++) {
                    keyBlocks(f, h, qb, list);
                    work += list.size();
                    frameTiles[f] += list.size();
                    for (int t = 0; t < list.size(); t++) {
                        int kb = list.keyBlock(t);
                        tiles[h]++;
                        if (list.isFull(t)) {
                            fullTiles[h]++;
                            pairs[h] += (long) grid.blockRows(qb) * grid.blockRows(kb);
                        } else {
                            // Counted before the tile is: one tile of large blocks may cost the whole budget.
                            work += intervals ? grid.blockRows(qb) : (long) grid.blockRows(qb) * grid.blockRows(kb);
                            if (work > maxWork) {
                                return null;
                            }
                            pairs[h] += allowedPairs(f, h, grid, qb, kb, Long.MAX_VALUE);
                        }
                    }
                    if (work > maxWork) {
                        return null;
                    }
                }
            }
        }
        return new LayoutStats(seqLen(), blockSize(), tiles, fullTiles, pairs, frameTiles);
    }

    /**
     * Returns the allowed pairs of tile ({@code qb}, {@code kb}) in this frame's share, counted up
     * to {@code enough} (at least; a row's interval counts whole): 1 tells whether it holds any.
     * Exact for any tile of a frame whose heads have earlier elements, the tiles its own elements
     * list as full included: only {@code strided} lives in such frames (every other pattern is
     * block-dense in the original order), and its interval holds in every tile.
     */
    private long allowedPairs(int frame, int head, BlockGrid grid, int qb, int kb, long enough) {
        long count = 0;
        if (hasIntervals(frame, head)) {
            for (int r = grid.blockStart(qb); r < grid.blockEnd(qb) && count < enough; r++) {
                int from = Math.max(grid.blockStart(kb), firstAllowedRow(frame, head, r));
                int to = Math.min(grid.blockEnd(kb) - 1, lastAllowedRow(frame, head, r));
                count += Math.max(0, to - from + 1);
            }
            return count;
        }
        for (int r = grid.blockStart(qb); r < grid.blockEnd(qb) && count < enough; r++) {
            for (int c = grid.blockStart(kb); c < grid.blockEnd(kb) && count < enough; c++) {
                if (allowed(frame, head, r, c)) {
                    count++;
                }
            }
        }
        return count;
    }

    /**
     * Returns the block grid of {@code head} in the original order: 0 where no pair of the
     * (query block, key block) tile is allowed, 1 where some are, 2 where all are.
     */
    public byte[][] originalGrid(int head) {
        if (seqLen() > MAX_GRID_LENGTH) {
            throw new InvalidInputException("the block grid in the original order is counted pair by pair and is"
                    + " limited to sequences of " + MAX_GRID_LENGTH + " positions, got " + seqLen());
        }
        BlockGrid grid = new BlockGrid(Frame.identity(seqLen()), blockSize());
        int nb = grid.numBlocks();
        byte[][] cells = new byte[nb][nb];
        for (int qb = 0; qb < nb; qb++) {
            for (int kb = 0; kb <= qb; kb++) {
                long allowedPairs = 0;
                long total = (long) grid.blockRows(qb) * grid.blockRows(kb);
                for (int i = grid.blockStart(qb); i < grid.blockEnd(qb); i++) {
                    for (int j = grid.blockStart(kb); j < grid.blockEnd(kb); j++) {
                        if (pattern.allows(head, i, j)) {
                            allowedPairs++;
                        }
                    }
                }
                cells[qb][kb] = (byte) (allowedPairs == 0 ? 0 : allowedPairs == total ? 2 : 1);
            }
        }
        return cells;
    }
}
