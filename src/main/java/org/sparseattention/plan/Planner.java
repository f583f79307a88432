package org.sparseattention.plan;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.kernel.BlockSparseKernel;
import org.sparseattention.kernel.SparseForward;
import org.sparseattention.layout.BlockGrid;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.TileList;

/** Turns settings, input shape and layout into units and balanced partitions. Pure and deterministic. */
public final class Planner {
    private Planner() {
    }

    /** Returns the layout of a run. */
    public static BlockLayout layout(JobSettings settings, InputShape shape) {
        long blockRows = Math.min(settings.blockSize(), shape.seqLen());
        if (blockRows > maxUnitRows(shape)) {
            throw new InvalidInputException("--block-size " + settings.blockSize() + ": a block's partial result of "
                    + blockRows + " rows x (E + heads + 1) = " + blockRows + " x " + pieceRowFloats(shape)
                    + " float32 values, more than one array of " + (Integer.MAX_VALUE - 8) + " bytes holds (at most "
                    + maxUnitRows(shape) + " rows at E = " + shape.features() + "); choose a smaller block size");
        }
        long shards = (long) shape.batch() * ((shape.seqLen() + (long) settings.shardRows() - 1) / settings.shardRows());
        if (shards > MAX_SHARDS) {
            throw new InvalidInputException("--shard-rows " + settings.shardRows() + ": B x ceil(L / --shard-rows) = "
                    + shape.batch() + " x " + shards / shape.batch() + " = " + shards + " output shards, more than the "
                    + MAX_SHARDS + " a run writes; choose a larger --shard-rows");
        }
        BlockLayout layout = BlockLayout.of(settings.pattern(), shape.seqLen(), settings.blockSize(), settings.heads());
        BlockSparseKernel.requirePassesFit(layout, settings.maxKeyBlocks());
        return layout;
    }

    /** The most output shards (files, and tasks that write them) a run makes. */
    public static final int MAX_SHARDS = 1 << 20;

    /**
     * Refuses a unit whose key rows (the union of its query blocks' and heads' key blocks) a task
     * could not hold in one array of E values per row.
     */
    static void requireKeysFit(JobSettings settings, InputShape shape, WorkUnit unit, long keyRows) {
        long values = keyRows * shape.features();
        if (values > Integer.MAX_VALUE - 8L) {
            // A range of rows split into chunks is bounded by CHUNK_RANGE_BLOCKS, not by --unit-tiles.
            boolean split = unit.isSplit();
            throw new InvalidInputException("--max-key-blocks " + settings.maxKeyBlocks()
                    + (split ? "" : ", --unit-tiles " + settings.unitTiles()) + ": query blocks " + unit.fromBlock()
                    + " to " + (unit.toBlock() - 1) + " of frame " + unit.frame()
                    + (split ? ", key chunk " + unit.chunk() : "") + " read " + keyRows + " key rows x E = " + keyRows
                    + " x " + shape.features() + " = " + values + " values, more than one array holds ("
                    + (Integer.MAX_VALUE - 8) + "); choose a smaller --max-key-blocks" + (split ? "" : " or --unit-tiles"));
        }
    }

    /** Values per row of a unit's partial result as the shuffle carries it: position, outputs, log-sum-exps. */
    private static long pieceRowFloats(InputShape shape) {
        return 1L + shape.features() + shape.heads();
    }

    /** Most query rows of one unit: its partial result, as the shuffle carries it, fits one byte array. */
    static long maxUnitRows(InputShape shape) {
        return (Integer.MAX_VALUE - 8L) / (Float.BYTES * pieceRowFloats(shape));
    }

    /**
     * Partitions per task slot for units whose output goes through the shuffle, when {@code
     * --partitions} is not given. Partitions are balanced on estimated work, and an estimate can be
     * off by a tenth or more (rows read one at a time cost what the page cache makes them cost);
     * with several partitions per slot, Spark hands the next one to whichever slot is free, so a
     * misestimate delays the end by a fraction of one.
     */
    public static final int PARTITIONS_PER_SLOT = 4;

    /**
     * Shard tasks per task slot from which units of the original row order are computed in place,
     * by the task that writes their shard: below that, too few tasks would share the work.
     */
    static final int IN_PLACE_MIN_SHARDS_PER_SLOT = 2;

    /**
     * Bytes of shuffled output one partition produces at most when {@code --partitions} is not
     * given: a task holds its pieces until Spark's shuffle writes them sorted by shard (the launchers
     * turn off Spark's writer that keeps one file per shard open instead, which wrote the pieces
     * twice), so the number of partitions grows with the shuffled output and a task's memory does
     * not. 128 MiB leaves the default of {@link #PARTITIONS_PER_SLOT} per slot up to L=262,144 at
     * E=512 (68 MB each); at L=1,048,576 it makes 19 partitions of at most 120 MB.
     */
    public static final long SHUFFLE_BYTES_PER_PARTITION = 128L << 20;

    /**
     * Plans a run on {@code slots} task slots. Units of the original row order whose query rows lie
     * in one output shard are computed in place by that shard's task when there are at least {@link
     * #IN_PLACE_MIN_SHARDS_PER_SLOT} shards per slot: their output then never crosses the shuffle.
     * The other units are balanced over {@code --partitions} partitions (default {@link
     * #PARTITIONS_PER_SLOT} per slot) whose output pieces are shuffled to the shard tasks.
     */
    public static Plan plan(JobSettings settings, InputShape shape, int slots) {
        return plan(settings, shape, slots, SHUFFLE_BYTES_PER_PARTITION);
    }

    /** {@link #plan(JobSettings, InputShape, int)} with {@code shuffleBytesPerPartition} instead of the default. */
    static Plan plan(JobSettings settings, InputShape shape, int slots, long shuffleBytesPerPartition) {
        BlockLayout layout = layout(settings, shape);
        List<WorkUnit> units = units(layout, shape.batch(), settings.maxKeyBlocks(), settings.unitTiles(),
                settings.shardRows(), maxUnitRows(shape));
        int shards = shape.batch() * shardsPerBatch(shape, settings);
        boolean inPlace = shards >= IN_PLACE_MIN_SHARDS_PER_SLOT * Math.max(1, slots);
        List<List<WorkUnit>> byShard = new ArrayList<>();
        for (int s = 0; s < shards; s++) {
            byShard.add(new ArrayList<>());
        }
        List<WorkUnit> shuffled = new ArrayList<>();
        for (WorkUnit unit : units) {
            int shard = inPlace ? shardOf(layout, shape, settings, unit) : -1;
            if (shard >= 0) {
                byShard.get(shard).add(unit);
            } else {
                shuffled.add(unit);
            }
        }
        long[] pieceBytes = pieceBytes(layout, shape, units);
        int partitions = settings.partitions() > 0 ? settings.partitions()
                : defaultPartitions(pieceBytes, shuffled, Math.max(1, slots), shuffleBytesPerPartition);
        Reads[] reads = reads(layout, units);
        for (WorkUnit unit : units) {
            requireKeysFit(settings, shape, unit, reads[unit.index()].keyRows());
        }
        long[] costs = new long[units.size()];
        for (WorkUnit unit : units) {
            costs[unit.index()] = cost(layout, shape, unit, reads[unit.index()]);
        }
        List<List<WorkUnit>> groups = shuffled.isEmpty() ? List.of()
                : balance(shuffled, costs, Math.min(partitions, shuffled.size()));
        // Balanced on work, a partition may still hold more pieces than the bound: then more of them.
        for (int count = groups.size(); settings.partitions() <= 0 && count < shuffled.size()
                && largest(groups, pieceBytes) > shuffleBytesPerPartition; ) {
            groups = balance(shuffled, costs, ++count);
        }
        long[] shardCosts = new long[shards];
        for (int shard = 0; shard < shards; shard++) {
            for (WorkUnit unit : byShard.get(shard)) {
                shardCosts[shard] += costs[unit.index()];
            }
        }
        List<Integer> order = new ArrayList<>();
        for (int shard = 0; shard < shards; shard++) {
            order.add(shard);
        }
        order.sort((a, b) -> shardCosts[a] != shardCosts[b] ? Long.compare(shardCosts[b], shardCosts[a])
                : Integer.compare(a, b));
        return new Plan(settings, shape, units, groups, byShard, order,
                figures(layout, shape, units, groups, inPlace ? byShard : List.of()));
    }

    /**
     * Returns {@link #PARTITIONS_PER_SLOT} per slot, or more, a multiple of the slots, when the
     * shuffled units' pieces would exceed {@code bytesPerPartition} in each.
     */
    private static int defaultPartitions(long[] pieceBytes, List<WorkUnit> shuffled, int slots,
            long bytesPerPartition) {
        long bytes = 0;
        for (WorkUnit unit : shuffled) {
            bytes += pieceBytes[unit.index()];
        }
        long bySize = (bytes + bytesPerPartition - 1) / bytesPerPartition;
        long perSlot = Math.max(PARTITIONS_PER_SLOT, (bySize + slots - 1) / slots);
        return (int) Math.min(Integer.MAX_VALUE, perSlot * slots);
    }

    /** Returns the bytes of each unit's shuffled pieces, by unit index: per row its position, output and log-sum-exps. */
    private static long[] pieceBytes(BlockLayout layout, InputShape shape, List<WorkUnit> units) {
        long[] bytes = new long[units.size()];
        for (WorkUnit unit : units) {
            BlockGrid grid = layout.grid(unit.frame());
            long rows = grid.blockEnd(unit.toBlock() - 1) - grid.blockStart(unit.fromBlock());
            bytes[unit.index()] = rows * (1L + shape.features() + shape.heads()) * Integer.BYTES;
        }
        return bytes;
    }

    /** Returns the most bytes of pieces one of {@code groups} holds. */
    private static long largest(List<List<WorkUnit>> groups, long[] pieceBytes) {
        long largest = 0;
        for (List<WorkUnit> group : groups) {
            largest = Math.max(largest, load(group, pieceBytes));
        }
        return largest;
    }

    /** Returns the output shards of one batch item: {@code ceil(L / --shard-rows)}. */
    public static int shardsPerBatch(InputShape shape, JobSettings settings) {
        return (int) ((shape.seqLen() + (long) settings.shardRows() - 1) / settings.shardRows());
    }

    /** Returns the shard of {@code position} in batch item {@code batch}, numbered across batch items. */
    public static int shard(InputShape shape, JobSettings settings, int batch, int position) {
        return batch * shardsPerBatch(shape, settings) + position / settings.shardRows();
    }

    /**
     * Returns the shard whose task can compute {@code unit} in place: the one holding all its query
     * rows, in the original row order; -1 when the unit's rows are in another order or span shards.
     */
    static int shardOf(BlockLayout layout, InputShape shape, JobSettings settings, WorkUnit unit) {
        BlockGrid grid = layout.grid(unit.frame());
        if (!grid.frame().isIdentity()) {
            return -1;
        }
        int first = grid.blockStart(unit.fromBlock());
        int last = grid.blockEnd(unit.toBlock() - 1) - 1;
        int shard = first / settings.shardRows();
        return last / settings.shardRows() == shard ? shard(shape, settings, unit.batch(), first) : -1;
    }

    /**
     * Returns the units of a layout, in (batch, frame, query block, chunk) order. Consecutive query
     * blocks whose tile lists are split into the same number of chunks form a range of up to {@link
     * #CHUNK_RANGE_BLOCKS} blocks with one unit per chunk; the others form units of whole rows of up
     * to {@code unitTiles} tiles (from one block on). In the original row order a unit never holds
     * rows of two output shards ({@code shardRows}), and a query block that straddles two shards is
     * a range of its own, so that every other unit can be computed by the task that writes its
     * shard. A unit holds at most {@code maxRows} query rows (from one block on). Query blocks
     * without a tile in any head (a later frame's, whose pairs earlier frames hold) are in no unit.
     */
    static List<WorkUnit> units(BlockLayout layout, int batch, int maxKeyBlocks, int unitTiles, int shardRows,
            long maxRows) {
        List<WorkUnit> units = new ArrayList<>();
        TileList scratch = new TileList();
        int[] sizes = new int[layout.heads()];
        for (int b = 0; b < batch; b++) {
            for (int f = 0; f < layout.frameCount(); f++) {
                BlockGrid grid = layout.grid(f);
                int blocks = grid.numBlocks();
                int reorderedRows = Math.min(REORDERED_UNIT_ROWS, grid.seqLen() / REORDERED_UNITS_PER_FRAME);
                int start = 0;
                // The chunks of the blocks from start on (1 for whole rows), and their tiles by chunk.
                int chunks = 1;
                long[] pending = new long[1];
                for (int qb = 0; qb < blocks; qb++) {
                    // Each head's tiles listed once: a `fixed` row's list grows with L, and it has L / l of them.
                    int most = 0;
                    for (int h = 0; h < sizes.length; h++) {
                        layout.keyBlocks(f, h, qb, scratch);
                        sizes[h] = scratch.size();
                        most = Math.max(most, sizes[h]);
                    }
                    if (most == 0) {
                        // No head has a tile of this block here (earlier frames hold all its pairs): no unit
                        // reads its rows. Such blocks lie at a frame's end, or fill it, but with blocks of
                        // one row (the first row of each residue class): units then end at each.
                        if (qb > start) {
                            add(units, b, f, start, qb, maxKeyBlocks, pending);
                        }
                        start = qb + 1;
                        continue;
                    }
                    int own = SparseForward.chunkCount(most, maxKeyBlocks);
                    long[] tiles = new long[own];
                    for (int c = 0; c < own; c++) {
                        tiles[c] = own == 1 ? tiles(sizes, 0, Integer.MAX_VALUE) : tiles(sizes, fromKey(c, maxKeyBlocks),
                                fromKey(c + 1, maxKeyBlocks));
                    }
                    boolean newShard = qb > start && grid.frame().isIdentity()
                            && shardKey(grid, qb, shardRows) != shardKey(grid, qb - 1, shardRows);
                    boolean full = own == 1
                            ? pending[0] + tiles[0] > unitTiles && (grid.frame().isIdentity()
                                    || grid.blockStart(qb) - grid.blockStart(start) >= reorderedRows)
                            : qb - start >= CHUNK_RANGE_BLOCKS;
                    boolean tooLong = grid.blockEnd(qb) - grid.blockStart(start) > maxRows;
                    if (qb > start && (own != chunks || full || newShard || tooLong)) {
                        add(units, b, f, start, qb, maxKeyBlocks, pending);
                        start = qb;
                    }
                    if (start == qb) {
                        chunks = own;
                        pending = new long[own];
                    }
                    for (int c = 0; c < own; c++) {
                        pending[c] += tiles[c];
                    }
                }
                if (blocks > start) {
                    add(units, b, f, start, blocks, maxKeyBlocks, pending);
                }
            }
        }
        return units;
    }

    /**
     * Query blocks of a range split into chunks, whatever {@code unitTiles} (which sizes units of
     * whole rows): the kernel computes a range's blocks for one chunk in one call, each key block's
     * rows serving all of them while cached, as the in-process path's {@link SparseForward#RANGE}
     * does. `fixed` at L=262,144 (l=1024, E=512): the job's kernel took 85.3 thread-seconds with
     * ranges of one block, 58.5 with four and 52.3 with eight, where `bench` takes 52.7.
     */
    static final int CHUNK_RANGE_BLOCKS = SparseForward.RANGE;

    /** Adds the units of query blocks {@code [from, to)}: one of whole rows, or one per chunk. */
    private static void add(List<WorkUnit> units, int batch, int frame, int from, int to, int maxKeyBlocks,
            long[] tiles) {
        if (tiles.length == 1) {
            units.add(new WorkUnit(units.size(), batch, frame, from, to, 0, 0, Integer.MAX_VALUE, tiles[0]));
            return;
        }
        for (int c = 0; c < tiles.length; c++) {
            units.add(new WorkUnit(units.size(), batch, frame, from, to, c, fromKey(c, maxKeyBlocks),
                    fromKey(c + 1, maxKeyBlocks), tiles[c]));
        }
    }

    /** Returns the first tile position of chunk {@code chunk}. */
    private static int fromKey(int chunk, int maxKeyBlocks) {
        return (int) Math.min(Integer.MAX_VALUE, (long) chunk * maxKeyBlocks);
    }

    /**
     * Query rows a unit of a reordered frame holds at least, whatever its tiles. Such a unit
     * reads its rows from a few residue classes, one run of consecutive positions per class member:
     * a unit of 2048 tiles held two classes at L=1,048,576 (l=1024), so its reads were one or two
     * rows long, at about 6 us per separate read. 8192 rows (16 MB of a tensor at E=512) make the
     * runs at least {@code 8192 / (L / l)} rows long and bound a unit's memory whatever L. At
     * most a {@link #REORDERED_UNITS_PER_FRAME}th of the frame, so that shorter sequences still
     * have units enough to balance partitions with.
     */
    static final int REORDERED_UNIT_ROWS = 8192;
    static final int REORDERED_UNITS_PER_FRAME = 32;

    /** Returns the shard that holds all rows of block {@code qb}, or {@code -1 - qb} when it straddles two. */
    private static int shardKey(BlockGrid grid, int qb, int shardRows) {
        int shard = grid.blockStart(qb) / shardRows;
        return (grid.blockEnd(qb) - 1) / shardRows == shard ? shard : -1 - qb;
    }

    /** Returns the tiles of key positions {@code [fromKey, toKey)} in lists of {@code sizes} tiles (one per head). */
    private static long tiles(int[] sizes, int fromKey, int toKey) {
        long tiles = 0;
        for (int size : sizes) {
            tiles += Math.max(0, Math.min(toKey, size) - Math.max(0, fromKey));
        }
        return tiles;
    }

    /**
     * Returns the rows of q, k and v a task reads for {@code task}'s units, computed in that order
     * (key rows count for k and for v): the rows of each unit less those the unit before of the
     * same batch item also read, which the task keeps where they are (a local window reaches back
     * into the previous unit's keys; {@code fixed}'s summary columns are shared by every unit after
     * them).
     */
    public static long rowsRead(BlockLayout layout, List<WorkUnit> task) {
        long rows = 0;
        // Per tensor kind (queries, keys): the frame blocks the unit before read, ascending, of its
        // frame and batch item. Within a frame, a block's rows are its own: blocks are compared.
        int[][] held = {new int[0], new int[0]};
        int heldFrame = -1;
        int heldBatch = -1;
        // Listed in unit order, where a range's chunk units are neighbours and share one listing.
        Integer[] byIndex = new Integer[task.size()];
        for (int i = 0; i < byIndex.length; i++) {
            byIndex[i] = i;
        }
        java.util.Arrays.sort(byIndex, Comparator.comparingInt(i -> task.get(i).index()));
        int[][] keys = new int[task.size()][];
        KeyBlockLists lists = new KeyBlockLists(layout);
        for (int i : byIndex) {
            keys[i] = lists.of(task.get(i));
        }
        for (int i = 0; i < task.size(); i++) {
            WorkUnit unit = task.get(i);
            BlockGrid grid = layout.grid(unit.frame());
            int[][] now = {range(unit.fromBlock(), unit.toBlock()), keys[i]};
            for (int kind = 0; kind < 2; kind++) {
                long fresh;
                if (heldBatch != unit.batch()) {
                    fresh = rows(grid, now[kind]);
                } else if (heldFrame == unit.frame()) {
                    fresh = notIn(now[kind], held[kind], grid::blockRows);
                } else {
                    // Another frame's blocks hold other rows: compared row by row.
                    fresh = notIn(positions(grid, now[kind]), positions(layout.grid(heldFrame), held[kind]), p -> 1);
                }
                rows += (kind == 0 ? 1L : 2L) * fresh;
                held[kind] = now[kind];
            }
            heldFrame = unit.frame();
            heldBatch = unit.batch();
        }
        return rows;
    }

    /**
     * Returns the summed {@code weight} of {@code items} (ascending) not in {@code held} (ascending):
     * rows of blocks not held ({@link BlockGrid#blockRows}), or positions not held (1 each).
     */
    private static long notIn(int[] items, int[] held, java.util.function.IntUnaryOperator weight) {
        long missing = 0;
        int h = 0;
        for (int item : items) {
            while (h < held.length && held[h] < item) {
                h++;
            }
            if (h == held.length || held[h] != item) {
                missing += weight.applyAsInt(item);
            }
        }
        return missing;
    }

    /**
     * What a unit reads by itself: rows of q, k and v (key rows count for k and for v), in that
     * many separate reads, and its key rows.
     */
    record Reads(long rows, long runs, int keyRows) {
    }

    /** Returns what each unit reads, by unit index. */
    static Reads[] reads(BlockLayout layout, List<WorkUnit> units) {
        Reads[] reads = new Reads[units.size()];
        KeyBlockLists lists = new KeyBlockLists(layout);
        for (WorkUnit unit : units) {
            reads[unit.index()] = read(layout.grid(unit.frame()), unit, lists.of(unit));
        }
        return reads;
    }

    private static Reads read(BlockGrid grid, WorkUnit unit, int[] keyBlocks) {
        int[] queryBlocks = range(unit.fromBlock(), unit.toBlock());
        if (grid.frame().isIdentity()) {
            // Blocks in the original order: consecutive blocks are consecutive rows.
            long queries = rows(grid, queryBlocks);
            long keys = rows(grid, keyBlocks);
            return new Reads(queries + 2 * keys, runs(queryBlocks) + 2L * runs(keyBlocks), (int) keys);
        }
        int[] queries = positions(grid, queryBlocks);
        int[] keys = positions(grid, keyBlocks);
        return new Reads(queries.length + 2L * keys.length, runs(queries) + 2L * runs(keys), keys.length);
    }

    /** Returns the rows of frame blocks {@code blocks}. */
    private static long rows(BlockGrid grid, int[] blocks) {
        long rows = 0;
        for (int block : blocks) {
            rows += grid.blockRows(block);
        }
        return rows;
    }

    /** Returns the number of runs of consecutive values (positions, or blocks) in {@code positions} (ascending). */
    private static long runs(int[] positions) {
        long runs = 0;
        for (int i = 0; i < positions.length; i++) {
            if (i == 0 || positions[i] != positions[i - 1] + 1) {
                runs++;
            }
        }
        return runs;
    }

    /**
     * Estimated work of a unit, in floating-point operations of a tile product: its tiles ({@code
     * 4 * block^2 * D} each), plus per query row and feature the work done once per row whatever its
     * keys (transposing, softmax bookkeeping, scaling the output, cutting it into pieces and
     * shuffling it; about 1300), plus per row read and feature the copying (about 145), plus per
     * separate read its fixed cost (about 375,000). Fitted to the job's per-task log (per frame:
     * tiles, reading and kernel times) with {@code local+strided}, l=1024, at L=262,144 and
     * L=1,048,576: 16.5 us per tile, 10.5 us per query row, 1.16 us per row read and 5.9 us per
     * separate read. Residue-order units have seven times fewer tiles per query row than the
     * others and read rows one or two at a time at L=1,048,576; weighing tiles alone left one
     * task 25 % longer than the other at L=262,144, and without the cost of separate reads one
     * task took 40 % longer at L=1,048,576.
     */
    static long cost(BlockLayout layout, InputShape shape, WorkUnit unit, Reads reads) {
        BlockGrid grid = layout.grid(unit.frame());
        long queryRows = grid.blockEnd(unit.toBlock() - 1) - grid.blockStart(unit.fromBlock());
        long block = Math.min(grid.blockSize(), layout.seqLen());
        long features = shape.features();
        return Math.max(1, 4 * block * block * shape.headDim() * unit.tiles() + QUERY_ROW_COST * features * queryRows
                + READ_ROW_COST * features * reads.rows() + READ_COST * reads.runs());
    }

    private static final long QUERY_ROW_COST = 1300;
    private static final long READ_ROW_COST = 145;
    private static final long READ_COST = 375_000;

    /**
     * Cuts the unit sequence into {@code count} contiguous groups (at most one per unit) whose
     * largest cost sum ({@code costs} by unit index) is as small as possible (binary search on that
     * bound, filling groups greedily; fewer groups reach that bound, so the costliest of them are
     * then split, which keeps it). Neighbouring query ranges stay together, so shared key rows are
     * read by few tasks.
     */
    static List<List<WorkUnit>> balance(List<WorkUnit> units, long[] costs, int count) {
        long low = 1;
        long high = 0;
        for (WorkUnit unit : units) {
            low = Math.max(low, costs[unit.index()]);
            high += costs[unit.index()];
        }
        while (low < high) {
            long bound = low + (high - low) / 2;
            if (groupsWithin(units, costs, bound) <= count) {
                high = bound;
            } else {
                low = bound + 1;
            }
        }
        List<List<WorkUnit>> groups = new ArrayList<>();
        List<WorkUnit> current = new ArrayList<>();
        long load = 0;
        for (WorkUnit unit : units) {
            if (!current.isEmpty() && load + costs[unit.index()] > low) {
                groups.add(current);
                current = new ArrayList<>();
                load = 0;
            }
            current.add(unit);
            load += costs[unit.index()];
        }
        if (!current.isEmpty()) {
            groups.add(current);
        }
        while (groups.size() < count) {
            // The costliest group of several units, split where its two halves are most even.
            int widest = -1;
            long widestLoad = -1;
            for (int g = 0; g < groups.size(); g++) {
                long sum = load(groups.get(g), costs);
                if (groups.get(g).size() > 1 && sum > widestLoad) {
                    widest = g;
                    widestLoad = sum;
                }
            }
            if (widest < 0) {
                break;
            }
            List<WorkUnit> group = groups.get(widest);
            int cut = 1;
            long first = costs[group.get(0).index()];
            while (cut < group.size() - 1 && 2 * (first + costs[group.get(cut).index()]) <= widestLoad) {
                first += costs[group.get(cut).index()];
                cut++;
            }
            // The last cut with its first half at most half the cost, or the next, whichever is more even.
            long next = first + costs[group.get(cut).index()];
            if (cut < group.size() - 1 && Math.max(next, widestLoad - next) < Math.max(first, widestLoad - first)) {
                cut++;
            }
            groups.set(widest, new ArrayList<>(group.subList(0, cut)));
            groups.add(widest + 1, new ArrayList<>(group.subList(cut, group.size())));
        }
        return groups;
    }

    private static long load(List<WorkUnit> group, long[] costs) {
        long sum = 0;
        for (WorkUnit unit : group) {
            sum += costs[unit.index()];
        }
        return sum;
    }

    private static int groupsWithin(List<WorkUnit> units, long[] costs, long bound) {
        int groups = 0;
        long load = 0;
        for (WorkUnit unit : units) {
            if (groups == 0 || load + costs[unit.index()] > bound) {
                groups++;
                load = 0;
            }
            load += costs[unit.index()];
        }
        return groups;
    }

    /** Returns the frame blocks whose rows {@code unit} reads as keys and values, ascending. */
    public static int[] keyBlocks(BlockLayout layout, WorkUnit unit) {
        return new KeyBlockLists(layout).of(unit);
    }

    /**
     * Lists units' key blocks, keeping the tile lists (every head's) of the last range of query
     * blocks split into chunks for the next unit: a range's chunk units, one after the other in
     * unit order, list it once for all of them, where a `fixed` row's list grows with L.
     */
    private static final class KeyBlockLists {
        private final BlockLayout layout;
        private final TileList scratch = new TileList();
        /** By (block - from) * heads + head, the lists of the range held. */
        private final List<TileList> held = new ArrayList<>();
        private int frame = -1;
        private int from = -1;
        private int to = -1;

        KeyBlockLists(BlockLayout layout) {
            this.layout = layout;
        }

        /** Returns the frame blocks whose rows {@code unit} reads as keys and values, ascending. */
        int[] of(WorkUnit unit) {
            BitSet blocks = new BitSet();
            int heads = layout.heads();
            if (!unit.isSplit()) {
                for (int qb = unit.fromBlock(); qb < unit.toBlock(); qb++) {
                    for (int h = 0; h < heads; h++) {
                        layout.keyBlocks(unit.frame(), h, qb, scratch);
                        add(scratch, 0, Integer.MAX_VALUE, blocks);
                    }
                }
                return blocks.stream().toArray();
            }
            int lists = (unit.toBlock() - unit.fromBlock()) * heads;
            if (unit.frame() != frame || unit.fromBlock() != from || unit.toBlock() != to) {
                while (held.size() < lists) {
                    held.add(new TileList());
                }
                for (int qb = unit.fromBlock(); qb < unit.toBlock(); qb++) {
                    for (int h = 0; h < heads; h++) {
                        layout.keyBlocks(unit.frame(), h, qb, held.get((qb - unit.fromBlock()) * heads + h));
                    }
                }
                frame = unit.frame();
                from = unit.fromBlock();
                to = unit.toBlock();
            }
            for (int i = 0; i < lists; i++) {
                add(held.get(i), unit.fromKey(), unit.toKey(), blocks);
            }
            return blocks.stream().toArray();
        }

        private static void add(TileList tiles, int fromKey, int toKey, BitSet blocks) {
            int last = Math.min(toKey, tiles.size());
            for (int t = Math.max(0, fromKey); t < last; t++) {
                blocks.set(tiles.keyBlock(t));
            }
        }
    }

    /** Returns the sequence positions of frame blocks {@code blocks}, ascending. */
    public static int[] positions(BlockGrid grid, int[] blocks) {
        int[] positions = framePositions(grid, blocks);
        java.util.Arrays.sort(positions);
        return positions;
    }

    /** Returns the sequence positions of frame blocks {@code blocks} (ascending) in frame order. */
    public static int[] framePositions(BlockGrid grid, int[] blocks) {
        int[] positions = new int[Math.toIntExact(rows(grid, blocks))];
        int at = 0;
        for (int block : blocks) {
            for (int r = grid.blockStart(block); r < grid.blockEnd(block); r++) {
                positions[at++] = grid.frame().original(r);
            }
        }
        return positions;
    }

    /** Returns the frame blocks {@code [from, to)}. */
    public static int[] range(int from, int to) {
        int[] blocks = new int[to - from];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = from + i;
        }
        return blocks;
    }

    /**
     * Returns {@code task}'s units in the order a task computes them, a partition's as a shard
     * task's (whose units are of one batch item): by batch item, then in merge order (frame, chunk,
     * unit). A range's chunk units are then apart, and each follows the same chunk of the range
     * before, whose key rows it shares (`all`: the same key blocks; `fixed`: the same summary
     * columns), which the task holds instead of reading again; a task holds one batch item's rows.
     */
    public static List<WorkUnit> inTaskOrder(List<WorkUnit> task) {
        List<WorkUnit> sorted = new ArrayList<>(task);
        sorted.sort(Comparator.comparingInt(WorkUnit::batch).thenComparingInt(WorkUnit::frame)
                .thenComparingInt(WorkUnit::chunk).thenComparingInt(WorkUnit::index));
        return sorted;
    }

    private static PlanFigures figures(BlockLayout layout, InputShape shape, List<WorkUnit> units,
            List<List<WorkUnit>> groups, List<List<WorkUnit>> inPlace) {
        long maxTiles = 0;
        long totalTiles = 0;
        long maxRows = 0;
        long totalRows = 0;
        int inPlaceUnits = 0;
        List<List<WorkUnit>> tasks = new ArrayList<>(groups);
        tasks.addAll(inPlace);
        for (int t = 0; t < tasks.size(); t++) {
            List<WorkUnit> task = tasks.get(t);
            long tiles = 0;
            for (WorkUnit unit : task) {
                tiles += unit.tiles();
            }
            long rows = rowsRead(layout, inTaskOrder(task));
            maxTiles = Math.max(maxTiles, tiles);
            totalTiles += tiles;
            maxRows = Math.max(maxRows, rows);
            totalRows += rows;
        }
        // Tasks that compute units: partitions, and shard tasks with units in place.
        int computing = groups.size();
        int shardTasks = 0;
        for (List<WorkUnit> shard : inPlace) {
            inPlaceUnits += shard.size();
            shardTasks += shard.isEmpty() ? 0 : 1;
        }
        computing += shardTasks;
        long inputRows = 3L * shape.batch() * shape.seqLen();
        return new PlanFigures(units.size(), groups.size(), inPlaceUnits, shardTasks, totalTiles, maxTiles,
                computing == 0 ? 0 : (double) totalTiles / computing, maxRows, totalRows, inputRows,
                mergedRows(layout, units));
    }

    /**
     * Returns the rows whose results are merged: those of two or more units (a union's frames, a
     * split row's key chunks). A later frame's blocks that earlier frames computed whole are in no
     * unit, and their rows merge nothing there.
     */
    static long mergedRows(BlockLayout layout, List<WorkUnit> units) {
        long merged = 0;
        java.util.BitSet seen = new java.util.BitSet(layout.seqLen());
        java.util.BitSet twice = new java.util.BitSet(layout.seqLen());
        int batch = -1;
        for (WorkUnit unit : units) {
            // Units come in batch order.
            if (unit.batch() != batch) {
                merged += twice.cardinality();
                seen.clear();
                twice.clear();
                batch = unit.batch();
            }
            BlockGrid grid = layout.grid(unit.frame());
            for (int r = grid.blockStart(unit.fromBlock()); r < grid.blockEnd(unit.toBlock() - 1); r++) {
                int position = grid.frame().original(r);
                if (seen.get(position)) {
                    twice.set(position);
                } else {
                    seen.set(position);
                }
            }
        }
        return merged + twice.cardinality();
    }
}
