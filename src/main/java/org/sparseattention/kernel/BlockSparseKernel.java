package org.sparseattention.kernel;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.layout.BlockGrid;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.TileList;

/**
 * Computes block-sparse attention for the tiles of a {@link BlockLayout}.
 *
 * <p>For one query block of one head, all key blocks of its tile list (or of one chunk of it) are
 * handled together: one product gives the scores against every listed key, the token rule masks
 * partial tiles, one softmax pass runs over the keys, and a second product gives the output
 * ({@link TileMath}). Keys and values are read in place from the input rows. Not thread-safe: use
 * one instance per thread.
 */
public final class BlockSparseKernel {
    /** Int lanes as many as {@link TileMath#SPECIES}' float lanes. */
    private static final VectorSpecies<Integer> INT_SPECIES = TileMath.SPECIES.withLanes(int.class);
    private static final int NEGATIVE_INFINITY_BITS = Float.floatToRawIntBits(Float.NEGATIVE_INFINITY);
    private final BlockLayout layout;
    private final int headDim;
    private final float scale;
    /** A tile list to list a whole call's keys with. */
    private final TileList listing = new TileList();
    /** Per query block of a call: its tile list for the current head and its transposed queries. */
    private TileList[] blockTiles = new TileList[0];
    private float[][] blockQueries = new float[0][];
    /** One normalised row of a sub-chunk on its way to be merged. */
    private final float[] mergeRow;
    /** Value rows of an output panel that are not evenly spaced, copied side by side. */
    private final float[] panelRows;
    private int[] queryOffsets = new int[0];
    private int[] queryPositions = new int[0];
    private int[] lastKey = new int[0];
    private int[] positions = new int[0];
    private float[] output = new float[0];
    private float[] logSumExp = new float[0];
    private int[] keyOffsets = new int[0];
    private int[] valueOffsets = new int[0];
    private float[] scores = new float[0];
    private float[] result = new float[0];
    /** One query block's rows of one head, side by side, on their way to being transposed. */
    private float[] staging = new float[0];
    private float[] rowLse = new float[0];
    private float[] inverseSums = new float[0];
    /** Which scores {@link #bands} found can be allowed, and the key interval hull of each query vector. */
    private int[] groupFrom = new int[0];
    private int[] groupTo = new int[0];
    private int[] keyFrom = new int[0];
    private int[] keyTo = new int[0];
    private int[] lowest = new int[0];
    private int[] highest = new int[0];
    private boolean bandsOn = true;
    /** Whether a product gave a value that is not finite since this kernel was made. */
    private boolean nonFinite;
    private long allowedPairs;
    /** Key and value rows of the current call, per head, packed: {@code packedKeys[h][slot * D + d]}. */
    private float[][] packedKeys = new float[0][];
    private float[][] packedValues = new float[0][];
    /** First slot of each frame block in the packed rows, or -1; {@code slotBlocks} lists the set ones. */
    private int[] blockSlot = new int[0];
    private int[] slotBlocks = new int[0];
    private int slotBlockCount;
    private boolean packed;

    public BlockSparseKernel(BlockLayout layout, int headDim, float scale) {
        this.layout = layout;
        this.headDim = headDim;
        this.scale = scale;
        this.mergeRow = new float[headDim];
        this.panelRows = new float[TileMath.panelRowsLength(headDim)];
    }

    /**
     * Refuses a layout any of whose passes would have more scores than one Java array holds, as
     * calls of up to {@code maxKeyBlocks} tiles split them ({@link #partStart}): before any work,
     * where {@link #ensureCapacity} would refuse the pass only when it comes. Block sizes whose
     * longest possible pass fits (all up to about 7,300 rows) are passed at once; for larger ones
     * every query block's list is looked at, which their few blocks make quick.
     */
    public static void requirePassesFit(BlockLayout layout, int maxKeyBlocks) {
        int rows = Math.min(layout.blockSize(), layout.seqLen());
        if (passScores(rows, (long) Math.min(SPLIT_ABOVE_TILES, layout.numBlocks()) * rows) <= MAX_ARRAY) {
            return;
        }
        TileList list = new TileList();
        for (int f = 0; f < layout.frameCount(); f++) {
            BlockGrid grid = layout.grid(f);
            for (int h = 0; h < layout.heads(); h++) {
                for (int qb = 0; qb < grid.numBlocks(); qb++) {
                    layout.keyBlocks(f, h, qb, list);
                    for (int first = 0; first < list.size(); first += maxKeyBlocks) {
                        int count = Math.min(maxKeyBlocks, list.size() - first);
                        for (int part = 0; partStart(first, count, part) >= 0; part++) {
                            int from = partStart(first, count, part);
                            int to = partEnd(first, count, part);
                            long keyRows = 0;
                            for (int t = from; t < to; t++) {
                                keyRows += grid.blockRows(list.keyBlock(t));
                            }
                            if (passScores(grid.blockRows(qb), keyRows) > MAX_ARRAY) {
                                throw tooWide(layout.blockSize(), grid.blockRows(qb), keyRows, to - from);
                            }
                        }
                    }
                }
            }
        }
    }

    private static InvalidInputException tooWide(int blockSize, int queryRows, long keyRows, int keyBlocks) {
        return new InvalidInputException("block size (--block-size) " + blockSize + ": the scores of a block's "
                + queryRows + " rows against " + keyRows + " key rows of one pass (" + (keyBlocks == 1 ? "one key block"
                : keyBlocks + " key blocks") + ") are more than one array holds; choose a smaller block size");
    }

    /** The most elements a Java array may have on common JVMs. */
    private static final long MAX_ARRAY = Integer.MAX_VALUE - 8L;

    /** Scores of one pass: {@code keyRows} keys by {@code queryRows} queries padded to whole vectors. */
    private static long passScores(long queryRows, long keyRows) {
        return keyRows * ((queryRows + TileMath.LANES - 1) / TileMath.LANES * TileMath.LANES);
    }

    /**
     * Returns whether an output product of this kernel gave a value that is not finite: from inputs
     * that are not, or from finite ones that float32 could not hold (the only way a merged output
     * can be other than finite when its log-sum-exp is).
     */
    boolean sawNonFinite() {
        return nonFinite;
    }

    /** Computes every score of partial tiles from now on, as before bands: for tests that compare the two. */
    void withoutBands() {
        bandsOn = false;
    }

    /** Returns the allowed (query, key) pairs computed so far: the useful work done. */
    public long allowedPairs() {
        return allowedPairs;
    }

    /**
     * Computes the attention of the rows of query blocks {@code [fromBlock, toBlock)} of
     * {@code frame}, all heads, over the key blocks at positions {@code [fromKey, toKey)} of each
     * query block's tile list (use 0 and {@code Integer.MAX_VALUE} for all of them). The result's
     * arrays belong to this kernel and are reused by the next call: consume them first.
     */
    public Partial compute(Rows q, Rows k, Rows v, int frame, int fromBlock, int toBlock, int fromKey, int toKey) {
        BlockGrid grid = layout.grid(frame);
        int heads = layout.heads();
        int firstRow = grid.blockStart(fromBlock);
        int rows = grid.blockEnd(toBlock - 1) - firstRow;
        if (positions.length < rows) {
            positions = new int[rows];
            output = new float[rows * heads * headDim];
            logSumExp = new float[rows * heads];
        }
        for (int r = 0; r < rows; r++) {
            positions[r] = grid.frame().original(firstRow + r);
        }
        Arrays.fill(output, 0, rows * heads * headDim, 0f);
        Arrays.fill(logSumExp, 0, rows * heads, Float.NEGATIVE_INFINITY);
        int blocks = toBlock - fromBlock;
        int runBlocks = blocks <= HEADS_OUTER_MAX_BLOCKS ? blocks : LONG_CALL_RUN_BLOCKS;
        for (int run = fromBlock; run < toBlock; run += runBlocks) {
            headsOuter(q, k, v, frame, grid, run, Math.min(toBlock, run + runBlocks), fromKey, toKey, firstRow);
        }
        return new Partial(rows, positions, heads, headDim, output, logSumExp);
    }

    /**
     * Computes query blocks {@code [fromBlock, toBlock)} (at most {@link #HEADS_OUTER_MAX_BLOCKS})
     * sub-chunk by sub-chunk, then head by head, then block by block: the blocks share one head's
     * slices of a sub-chunk's rows (packed when they fit) while those are in the cache. Rows go to
     * the call's output from {@code firstRow}.
     */
    private void headsOuter(Rows q, Rows k, Rows v, int frame, BlockGrid grid, int fromBlock, int toBlock,
            int fromKey, int toKey, int firstRow) {
        int heads = layout.heads();
        int blocks = toBlock - fromBlock;
        ensureBlockScratch(blocks * heads);
        for (int h = 0; h < heads; h++) {
            for (int qb = fromBlock; qb < toBlock; qb++) {
                layout.keyBlocks(frame, h, qb, blockTiles[h * blocks + qb - fromBlock]);
            }
        }
        for (int part = 0; ; part++) {
            int keyRows = listKeyRows(frame, grid, fromBlock, toBlock, fromKey, toKey, part, -1);
            if (keyRows == 0) {
                break;
            }
            boolean allHeads = packIfWorth(k, v, grid, blocks, keyRows, -1);
            for (int h = 0; h < heads; h++) {
                if (!allHeads && blocks >= PACK_MIN_BLOCKS && !k.headMajor()) {
                    // Heads whose key blocks differ (`fixed`): each head's own rows may still fit.
                    packIfWorth(k, v, grid, blocks, listKeyRows(frame, grid, fromBlock, toBlock, fromKey, toKey,
                            part, h), h);
                }
                for (int qb = fromBlock; qb < toBlock; qb++) {
                    int i = h * blocks + qb - fromBlock;
                    subChunk(q, k, v, frame, grid, h, qb, fromKey, toKey, firstRow, part, blockTiles[i],
                            blockQueries[i]);
                }
            }
        }
    }

    /**
     * Tiles above which a block's keys in one call are computed in sub-chunks of
     * {@link #SUB_CHUNK_TILES} tiles (the last one shorter), merged in order (README.md, "What
     * is computed"). A call's sub-chunks start at the same tile positions for every block, so a
     * range of blocks with common keys shares a sub-chunk's key and value rows, and one head's
     * slices of them (1 MB) and the scores against them (0.5 MB) stay in the second-level cache
     * while the range's blocks use them: `all` and `fixed` ran their products 20-30 % faster than
     * over chunks of 64 tiles, and 5-10 % faster overall than with sub-chunks of 16 (fewer merges).
     * Rows of up to 40 tiles (the job's `local+strided` rows of 17) are computed whole.
     */
    static final int SPLIT_ABOVE_TILES = 40;
    static final int SUB_CHUNK_TILES = 32;

    /**
     * Returns the first tile position of sub-chunk {@code part} of a block whose tiles in the call
     * are {@code [first, first + count)}, or -1 if it has no such part; {@link #partEnd} its end.
     */
    static int partStart(int first, int count, int part) {
        if (count <= 0) {
            return -1;
        }
        if (count <= SPLIT_ABOVE_TILES) {
            return part == 0 ? first : -1;
        }
        return (long) part * SUB_CHUNK_TILES < count ? first + part * SUB_CHUNK_TILES : -1;
    }

    static int partEnd(int first, int count, int part) {
        return count <= SPLIT_ABOVE_TILES ? first + count : first + Math.min(count, (part + 1) * SUB_CHUNK_TILES);
    }

    /**
     * Computes sub-chunk {@code part} of head {@code h} of query block {@code qb} over the tiles
     * {@code [fromKey, toKey)} of {@code tiles} (its list), merging it into the block's rows after
     * the earlier ones. Part 0 also transposes the block's queries into {@code queries}, which later
     * parts reuse. Returns false, computing nothing, when the block has no such part.
     */
    private boolean subChunk(Rows q, Rows k, Rows v, int frame, BlockGrid grid, int h, int qb, int fromKey,
            int toKey, int firstRow, int part, TileList tiles, float[] queries) {
        int first = Math.max(0, fromKey);
        int count = Math.min(tiles.size(), toKey) - first;
        int start = partStart(first, count, part);
        if (start < 0) {
            return false;
        }
        queryBlock(q, k, v, frame, grid, h, qb, tiles, start, partEnd(first, count, part), queries, part > 0, output,
                logSumExp, grid.blockStart(qb) - firstRow);
        return true;
    }

    /** Grows the per-block tile lists and transposed-query buffers to {@code blocks}. */
    private void ensureBlockScratch(int blocks) {
        if (blockTiles.length < blocks) {
            TileList[] grown = Arrays.copyOf(blockTiles, blocks);
            for (int i = blockTiles.length; i < blocks; i++) {
                grown[i] = new TileList();
            }
            blockTiles = grown;
            blockQueries = Arrays.copyOf(blockQueries, blocks);
        }
        int size = headDim * TileMath.padded(Math.min(layout.blockSize(), layout.seqLen()));
        for (int i = 0; i < blocks; i++) {
            if (blockQueries[i] == null || blockQueries[i].length < size) {
                blockQueries[i] = new float[size];
            }
        }
    }

    private void queryBlock(Rows q, Rows k, Rows v, int frame, BlockGrid grid, int head, int qb, TileList tiles,
            int firstTile, int lastTile, float[] queries, boolean merge, float[] output, float[] logSumExp,
            int outRow) {
        boolean profile = KernelProfile.enabled();
        long clock = profile ? System.nanoTime() : 0;
        int queryRows = grid.blockRows(qb);
        int ld = TileMath.padded(queryRows);
        long keyRowCount = 0;
        for (int t = firstTile; t < lastTile; t++) {
            keyRowCount += grid.blockRows(tiles.keyBlock(t));
        }
        ensureCapacity(ld, keyRowCount, lastTile - firstTile, queryRows);
        int keyRows = (int) keyRowCount;
        int headOffset = head * headDim;
        int keyHead = k.headOffset(head, headDim);
        int valueHead = v.headOffset(head, headDim);
        int column = 0;
        for (int t = firstTile; t < lastTile; t++) {
            int kb = tiles.keyBlock(t);
            if (packed) {
                int slot = blockSlot[kb] * headDim;
                for (int row = grid.blockStart(kb); row < grid.blockEnd(kb); row++) {
                    keyOffsets[column] = slot;
                    valueOffsets[column] = slot;
                    slot += headDim;
                    column++;
                }
            } else {
                for (int row = grid.blockStart(kb); row < grid.blockEnd(kb); row++) {
                    int position = grid.frame().original(row);
                    keyOffsets[column] = k.offset(position) + keyHead;
                    valueOffsets[column] = v.offset(position) + valueHead;
                    column++;
                }
            }
        }
        float[] keys = packed ? packedKeys[head] : k.data();
        float[] values = packed ? packedValues[head] : v.data();
        if (!merge) {
            int queryStart = grid.blockStart(qb);
            int queryHead = q.headOffset(head, headDim);
            for (int r = 0; r < queryRows; r++) {
                queryOffsets[r] = q.offset(grid.frame().original(queryStart + r)) + queryHead;
            }
            TileMath.transposeScaled(q.data(), queryOffsets, queryRows, headDim, scale, queries, ld, staging);
        }
        clock = lap(profile, KernelProfile.Phase.GATHER, clock);
        boolean banded = bands(frame, grid, head, qb, tiles, firstTile, lastTile, ld, keyRows);
        clock = lap(profile, KernelProfile.Phase.MASK, clock);
        TileMath.scores(keys, keyOffsets, keyRows, queries, ld, headDim, scores, banded ? groupFrom : null,
                banded ? groupTo : null);
        clock = lap(profile, KernelProfile.Phase.SCORES_GEMM, clock);
        applyMask(frame, grid, head, qb, tiles, firstTile, lastTile, scores, ld, banded);
        clock = lap(profile, KernelProfile.Phase.MASK, clock);
        Softmax.columns(scores, keyRows, ld, rowLse, inverseSums, banded ? keyFrom : null, banded ? keyTo : null);
        clock = lap(profile, KernelProfile.Phase.SOFTMAX, clock);
        TileMath.output(values, valueOffsets, keyRows, scores, ld, headDim, result, banded ? keyFrom : null,
                banded ? keyTo : null, panelRows);
        if (TileMath.hasNonFinite(result, ld, headDim, queryRows)) {
            nonFinite = true;
            TileMath.outputSkippingZeroWeights(values, valueOffsets, keyRows, scores, ld, headDim, result);
            // A row still not finite: a value that is not (which dividing first leaves so), or finite
            // values whose weighted sum passed float32's range, which dividing first keeps within it.
            for (int r = 0; r < queryRows; r++) {
                if (!TileMath.columnFinite(result, ld, headDim, r)) {
                    TileMath.outputColumnNormalised(values, valueOffsets, keyRows, scores, ld, headDim, result, r,
                            inverseSums[r]);
                    inverseSums[r] = 1f;
                }
            }
        }
        clock = lap(profile, KernelProfile.Phase.OUTPUT_GEMM, clock);
        int heads = layout.heads();
        int rowLength = heads * headDim;
        if (merge) {
            for (int r = 0; r < queryRows; r++) {
                scatterRow(result, ld, r, inverseSums[r], headDim, mergeRow, 0);
                Accumulator.mergeHead(output, (outRow + r) * rowLength + headOffset, logSumExp,
                        (outRow + r) * heads + head, mergeRow, 0, rowLse[r], headDim);
            }
        } else {
            for (int r = 0; r < queryRows; r++) {
                scatterRow(result, ld, r, inverseSums[r], headDim, output, (outRow + r) * rowLength + headOffset);
                logSumExp[(outRow + r) * heads + head] = rowLse[r];
            }
        }
        lap(profile, KernelProfile.Phase.SCATTER, clock);
    }

    /**
     * Writes column {@code r} of the transposed output {@code result}, times {@code inverse}, to
     * {@code target} from {@code at}: a method of its own, compiled on its own profile (inside the
     * query-block loop, some processes compiled it several times slower than others).
     */
    private static void scatterRow(float[] result, int ld, int r, float inverse, int headDim, float[] target, int at) {
        for (int d = 0; d < headDim; d++) {
            target[at + d] = result[d * ld + r] * inverse;
        }
    }

    /** Query blocks from which a call packs its key and value rows: below, the copy costs more than it saves. */
    static final int PACK_MIN_BLOCKS = 4;

    /**
     * Largest packed copy, in bytes: beyond what the second-level cache holds the packed rows are
     * read back from memory like the input rows, and the copy is pure cost (`fixed`, whose rows
     * share summary blocks from the whole prefix, ran 10 % slower packed in one comparison).
     */
    static final long PACK_MAX_BYTES = 4L << 20;

    /**
     * Most query blocks of a call that runs its heads (within each sub-chunk) outside its blocks
     * in one piece; longer calls do so in runs of {@link #LONG_CALL_RUN_BLOCKS}. Measured:
     * in-process ranges of 8 blocks sharing chunks of 64 key blocks (`fixed`, `all`) ran 1.15-1.4 x
     * faster heads outside than blocks outside, and the job's units of about 14 blocks of
     * `local+strided`'s original order (l=1024) were no slower; its residue-order units of 128
     * blocks, each block with a few key blocks of its own, ran 20-30 % slower in one piece.
     */
    static final int HEADS_OUTER_MAX_BLOCKS = 32;

    /**
     * Blocks per run of a longer call (the job's residue-order units of 128 blocks): a run's key
     * rows fit the packing bound, and its blocks' transposed queries and tile lists stay cached.
     * Against blocks outermost with rows read in place, the residue-order stage's kernel took
     * 13.5-15.7 against 17.2-18.4 thread-seconds at L=1,048,576 (rows of up to 16 key blocks) and
     * 1.8-2.1 against 2.0-2.5 at L=262,144 (up to 4); runs of 16 or 32 gained less at L=1,048,576
     * and nothing at L=262,144.
     */
    static final int LONG_CALL_RUN_BLOCKS = 8;

    /**
     * Lists the distinct key blocks that query blocks {@code [fromBlock, toBlock)} use (head
     * {@code head}, or every head if it is -1; tile positions {@code [fromKey, toKey)}, only those
     * of sub-chunk {@code part} unless it is -1) as packing slots, and returns their rows. With a
     * part, the blocks' tile lists are those held in {@link #blockTiles}.
     */
    private int listKeyRows(int frame, BlockGrid grid, int fromBlock, int toBlock, int fromKey, int toKey, int part,
            int head) {
        boolean profile = KernelProfile.enabled();
        long clock = profile ? System.nanoTime() : 0;
        int heads = layout.heads();
        int blocks = toBlock - fromBlock;
        if (blockSlot.length < grid.numBlocks()) {
            blockSlot = new int[grid.numBlocks()];
            Arrays.fill(blockSlot, -1);
        }
        for (int i = 0; i < slotBlockCount; i++) {
            blockSlot[slotBlocks[i]] = -1;
        }
        slotBlockCount = 0;
        int slots = 0;
        int first = Math.max(0, fromKey);
        for (int qb = fromBlock; qb < toBlock; qb++) {
            for (int h = Math.max(0, head); h < (head < 0 ? heads : head + 1); h++) {
                TileList list = listing;
                if (part < 0) {
                    layout.keyBlocks(frame, h, qb, listing);
                } else {
                    list = blockTiles[h * blocks + qb - fromBlock];
                }
                int last = Math.min(list.size(), toKey);
                int from = first;
                if (part >= 0) {
                    from = partStart(first, last - first, part);
                    if (from < 0) {
                        continue;
                    }
                    last = partEnd(first, last - first, part);
                }
                for (int t = from; t < last; t++) {
                    int kb = list.keyBlock(t);
                    if (blockSlot[kb] < 0) {
                        blockSlot[kb] = slots;
                        slots += grid.blockRows(kb);
                        if (slotBlockCount == slotBlocks.length) {
                            slotBlocks = Arrays.copyOf(slotBlocks, Math.max(16, 2 * slotBlockCount));
                        }
                        slotBlocks[slotBlockCount++] = kb;
                    }
                }
            }
        }
        lap(profile, KernelProfile.Phase.GATHER, clock);
        return slots;
    }

    /**
     * Packs the {@code keyRows} rows just listed (of head {@code head}, or of every head if it is
     * -1) when a call of {@code blocks} blocks gains by it; returns whether it did.
     */
    private boolean packIfWorth(Rows k, Rows v, BlockGrid grid, int blocks, int keyRows, int head) {
        long bytes = 2L * keyRows * (head < 0 ? layout.heads() : 1) * headDim * Float.BYTES;
        // Rows held head by head already give each key block's rows of a head adjacent.
        packed = !(k.headMajor() && v.headMajor()) && blocks >= PACK_MIN_BLOCKS
                && bytes <= (head < 0 ? PACK_MAX_BYTES : PACK_MAX_HEAD_BYTES);
        if (packed) {
            pack(k, v, grid, keyRows, head);
        }
        return packed;
    }

    /**
     * Largest packed copy of one head's rows, in bytes, when the heads' key blocks differ: a
     * sub-chunk's rows for the blocks of a range (`fixed`: 32 tiles, and a few more where the range
     * spans two of its summary sets, about 1.1 MB) stay in the second-level cache with the scores.
     */
    static final long PACK_MAX_HEAD_BYTES = 3L << 19;

    /**
     * Copies the {@code slots} key and value rows listed by {@link #listKeyRows} (of head
     * {@code head}, or of every head if it is -1) into per-head arrays, each key block's rows
     * adjacent. The products then read 64 contiguous floats per key, and a row shared by
     * neighbouring query blocks is fetched from the input once per call instead of once per query
     * block and head (the value product ran at about 67 GFLOP/s per core on rows read in place,
     * against 100-130 on packed rows).
     */
    private void pack(Rows k, Rows v, BlockGrid grid, int slots, int head) {
        boolean profile = KernelProfile.enabled();
        long clock = profile ? System.nanoTime() : 0;
        int heads = layout.heads();
        if (packedKeys.length < heads || packedKeys[0].length < slots * headDim) {
            int capacity = Math.max(slots, packedKeys.length == 0 ? 0 : packedKeys[0].length / headDim * 3 / 2);
            packedKeys = new float[heads][capacity * headDim];
            packedValues = new float[heads][capacity * headDim];
        }
        int fromHead = Math.max(0, head);
        int toHead = head < 0 ? heads : head + 1;
        for (int i = 0; i < slotBlockCount; i++) {
            int kb = slotBlocks[i];
            int slot = blockSlot[kb];
            for (int row = grid.blockStart(kb); row < grid.blockEnd(kb); row++, slot++) {
                int position = grid.frame().original(row);
                int keyRow = k.offset(position);
                int valueRow = v.offset(position);
                for (int h = fromHead; h < toHead; h++) {
                    System.arraycopy(k.data(), keyRow + k.headOffset(h, headDim), packedKeys[h], slot * headDim,
                            headDim);
                    System.arraycopy(v.data(), valueRow + v.headOffset(h, headDim), packedValues[h], slot * headDim,
                            headDim);
                }
            }
        }
        lap(profile, KernelProfile.Phase.PACK, clock);
    }

    /** Grows the scratch arrays for {@code ld} query columns and {@code keyRows} keys. */
    private void ensureCapacity(int ld, long keyRowCount, int keyBlocks, int queryRows) {
        if (passScores(ld, keyRowCount) > MAX_ARRAY) {
            throw tooWide(layout.blockSize(), queryRows, keyRowCount, keyBlocks);
        }
        int keyRows = (int) keyRowCount;
        if (queryOffsets.length < ld) {
            queryOffsets = new int[ld];
            rowLse = new float[ld];
            inverseSums = new float[ld];
        }
        if (result.length < headDim * ld) {
            result = new float[headDim * ld];
            staging = new float[headDim * ld];
        }
        if (keyOffsets.length < keyRows) {
            keyOffsets = new int[keyRows];
            valueOffsets = new int[keyRows];
        }
        if (scores.length < keyRows * ld) {
            scores = new float[keyRows * ld];
        }
    }

    /**
     * For a block with partial tiles whose rows attend intervals, finds which scores can be
     * allowed at all: per group of four keys the query vectors {@code [groupFrom, groupTo)}, per
     * query vector the keys {@code [keyFrom, keyTo)}, each covering every allowed pair (a vector's
     * rows may attend only keys between their smallest first and largest last allowed row). The
     * products and the softmax then leave out the rest, which the mask sets to {@code -inf} (and the
     * softmax to 0) as before. In `local`'s first and last tiles that is 3/8 of the scores. Returns
     * false, leaving every score to compute, for other blocks.
     */
    private boolean bands(int frame, BlockGrid grid, int head, int qb, TileList tiles, int firstTile,
            int lastTile, int ld, int keyRows) {
        if (!bandsOn || !layout.hasIntervals(frame, head)) {
            return false;
        }
        boolean partial = false;
        for (int t = firstTile; t < lastTile && !partial; t++) {
            partial = !tiles.isFull(t);
        }
        if (!partial) {
            return false;
        }
        mapRows(frame, grid, head, qb, ld, true);
        int vectors = ld / TileMath.LANES;
        int groups = (keyRows + 3) / 4;
        if (keyFrom.length < vectors) {
            keyFrom = new int[vectors];
            keyTo = new int[vectors];
            lowest = new int[vectors];
            highest = new int[vectors];
        }
        if (groupFrom.length < groups) {
            groupFrom = new int[groups];
            groupTo = new int[groups];
        }
        for (int v = 0; v < vectors; v++) {
            int low = Integer.MAX_VALUE;
            int high = Integer.MIN_VALUE;
            for (int r = v * TileMath.LANES; r < (v + 1) * TileMath.LANES; r++) {
                low = Math.min(low, queryPositions[r]);
                high = Math.max(high, lastKey[r]);
            }
            lowest[v] = low;
            highest[v] = high;
            keyFrom[v] = keyRows;
            keyTo[v] = 0;
        }
        Arrays.fill(groupFrom, 0, groups, vectors);
        Arrays.fill(groupTo, 0, groups, 0);
        int column = 0;
        for (int t = firstTile; t < lastTile; t++) {
            int kb = tiles.keyBlock(t);
            int keyStart = grid.blockStart(kb);
            int width = grid.blockRows(kb);
            boolean full = tiles.isFull(t);
            for (int v = 0; v < vectors; v++) {
                // The tile's keys vector v may attend, as columns of the call.
                long first = column + (full ? 0 : Math.max(0L, (long) lowest[v] - keyStart));
                long last = column + (full ? width - 1 : Math.min(width - 1L, (long) highest[v] - keyStart));
                if (first > last) {
                    continue;
                }
                keyFrom[v] = Math.min(keyFrom[v], (int) first);
                keyTo[v] = Math.max(keyTo[v], (int) last + 1);
                for (int g = (int) first / 4; g <= (int) last / 4; g++) {
                    groupFrom[g] = Math.min(groupFrom[g], v);
                    groupTo[g] = Math.max(groupTo[g], v + 1);
                }
            }
            column += width;
        }
        for (int g = 0; g < groups; g++) {
            if (groupFrom[g] >= groupTo[g]) {
                groupFrom[g] = 0;
                groupTo[g] = 0;
            }
        }
        for (int v = 0; v < vectors; v++) {
            if (keyFrom[v] >= keyTo[v]) {
                keyFrom[v] = 0;
                keyTo[v] = 0;
            }
        }
        return true;
    }

    /**
     * Fills {@code queryPositions} (and {@code lastKey}) for the rows of query block {@code qb}:
     * each row's first and last allowed key row when {@code intervals}, else its sequence position.
     */
    private void mapRows(int frame, BlockGrid grid, int head, int qb, int ld, boolean intervals) {
        int queryStart = grid.blockStart(qb);
        int queryRows = grid.blockRows(qb);
        if (queryPositions.length < ld) {
            queryPositions = new int[ld];
            lastKey = new int[ld];
        }
        for (int r = 0; r < queryRows; r++) {
            int row = queryStart + r;
            if (intervals) {
                queryPositions[r] = layout.firstAllowedRow(frame, head, row);
                lastKey[r] = layout.lastAllowedRow(frame, head, row);
            } else {
                queryPositions[r] = grid.frame().original(row);
            }
        }
        // Padding columns: every key allowed, their scores left as they are.
        Arrays.fill(queryPositions, queryRows, ld, Integer.MIN_VALUE);
        Arrays.fill(lastKey, queryRows, ld, Integer.MAX_VALUE);
    }

    /**
     * Sets the transposed scores {@code s[c * ld + r]} of pairs the token rule forbids to
     * {@code -inf}; {@code mapped} when {@link #mapRows} was called for this block already.
     */
    private void applyMask(int frame, BlockGrid grid, int head, int qb, TileList tiles, int firstTile,
            int lastTile, float[] s, int ld, boolean mapped) {
        int queryRows = grid.blockRows(qb);
        boolean intervals = layout.hasIntervals(frame, head);
        int column = 0;
        for (int t = firstTile; t < lastTile; t++) {
            int kb = tiles.keyBlock(t);
            int keyStart = grid.blockStart(kb);
            int width = grid.blockRows(kb);
            if (tiles.isFull(t)) {
                allowedPairs += (long) queryRows * width;
            } else {
                if (!mapped) {
                    mapRows(frame, grid, head, qb, ld, intervals);
                    mapped = true;
                }
                if (intervals) {
                    maskIntervals(s, ld, column, keyStart, width, queryRows);
                } else {
                    maskPairs(frame, grid, head, s, ld, column, keyStart, width, queryRows);
                }
            }
            column += width;
        }
    }

    /**
     * Masks a tile where row r may attend the key rows {@code [queryPositions[r], lastKey[r]]}:
     * per key, whole vectors of query columns compared at once (scalar, a branch per pair, this
     * was 8 % of `local`'s time).
     */
    private void maskIntervals(float[] s, int ld, int column, int keyStart, int width, int queryRows) {
        for (int c = 0; c < width; c++) {
            int key = keyStart + c;
            int base = (column + c) * ld;
            for (int r = 0; r < ld; r += INT_SPECIES.length()) {
                VectorMask<Integer> before = IntVector.fromArray(INT_SPECIES, queryPositions, r)
                        .compare(VectorOperators.GT, key);
                VectorMask<Integer> out = before.or(IntVector.fromArray(INT_SPECIES, lastKey, r)
                        .compare(VectorOperators.LT, key));
                if (out.anyTrue()) {
                    FloatVector.fromArray(TileMath.SPECIES, s, base + r).reinterpretAsInts()
                            .blend(NEGATIVE_INFINITY_BITS, out).reinterpretAsFloats().intoArray(s, base + r);
                }
            }
        }
        for (int r = 0; r < queryRows; r++) {
            int from = Math.max(keyStart, queryPositions[r]);
            int to = Math.min(keyStart + width - 1, lastKey[r]);
            allowedPairs += Math.max(0, to - from + 1);
        }
    }

    /** Masks a tile pair by pair with the token rule; {@code queryPositions} holds sequence positions. */
    private void maskPairs(int frame, BlockGrid grid, int head, float[] s, int ld, int column, int keyStart, int width,
            int queryRows) {
        for (int c = 0; c < width; c++) {
            int key = grid.frame().original(keyStart + c);
            int base = (column + c) * ld;
            for (int r = 0; r < queryRows; r++) {
                if (layout.allowedPositions(frame, head, queryPositions[r], key)) {
                    allowedPairs++;
                } else {
                    s[base + r] = Float.NEGATIVE_INFINITY;
                }
            }
        }
    }

    private static long lap(boolean profile, KernelProfile.Phase phase, long since) {
        if (!profile) {
            return 0;
        }
        long now = System.nanoTime();
        KernelProfile.add(phase, now - since);
        return now;
    }
}
