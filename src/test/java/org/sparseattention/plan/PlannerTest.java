package org.sparseattention.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.layout.BlockGrid;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.TileList;

class PlannerTest {

    private static JobSettings settings(String mode, int context, int blockSize, int heads, int partitions,
            int maxKeyBlocks, int unitTiles) {
        return new JobSettings("q.npy", "k.npy", "v.npy", "out", heads, mode, context, blockSize, 1, 1, Double.NaN,
                partitions, maxKeyBlocks, unitTiles, 4096, false, false, false, false);
    }

    /** --partitions P gives P groups where there are units enough, without raising the costliest group's cost. */
    @Test
    void balanceMakesTheGroupsAskedForWhereTheBoundAllowsFewer() {
        long[] costs = {10, 1, 1, 1, 1, 10};
        List<WorkUnit> units = new ArrayList<>();
        for (int u = 0; u < costs.length; u++) {
            units.add(new WorkUnit(u, 0, 0, u, u + 1, 0, 0, Integer.MAX_VALUE, costs[u]));
        }
        for (int count = 1; count <= 8; count++) {
            List<List<WorkUnit>> groups = Planner.balance(units, costs, count);
            assertEquals(Math.min(count, units.size()), groups.size(), "groups for " + count);
            List<WorkUnit> joined = new ArrayList<>();
            long largest = 0;
            for (List<WorkUnit> group : groups) {
                joined.addAll(group);
                largest = Math.max(largest, group.stream().mapToLong(unit -> costs[unit.index()]).sum());
            }
            assertEquals(units, joined, "contiguous, in order, each unit once");
            assertEquals(leastBottleneck(costs, 0, Math.min(count, costs.length)), largest, "bottleneck for " + count);
        }
    }

    /** A group split to make up the count is cut where its halves are most even. */
    @Test
    void aSplitGroupIsCutEvenly() {
        long[] costs = {10, 3, 3, 4, 10};
        List<WorkUnit> units = new ArrayList<>();
        for (int u = 0; u < costs.length; u++) {
            units.add(new WorkUnit(u, 0, 0, u, u + 1, 0, 0, Integer.MAX_VALUE, costs[u]));
        }
        // The bound 10 takes three groups, 10 | 3 3 4 | 10; the fourth comes from 3 3 | 4, not 3 | 3 4.
        assertEquals(List.of(1, 2, 1, 1), Planner.balance(units, costs, 4).stream().map(List::size).toList());
    }

    /** The least largest sum of {@code costs[from..]} cut into {@code groups} contiguous non-empty groups, by trying every cut. */
    private static long leastBottleneck(long[] costs, int from, int groups) {
        if (groups == 1) {
            long sum = 0;
            for (int i = from; i < costs.length; i++) {
                sum += costs[i];
            }
            return sum;
        }
        long best = Long.MAX_VALUE;
        long first = 0;
        for (int end = from + 1; end <= costs.length - (groups - 1); end++) {
            first += costs[end - 1];
            best = Math.min(best, Math.max(first, leastBottleneck(costs, end, groups - 1)));
        }
        return best;
    }

    @Test
    void everyAllowedTileIsInExactlyOneUnit() {
        for (String mode : List.of("all", "local", "strided", "local+strided", "local,strided,all")) {
            JobSettings s = settings(mode, 24, 8, 3, 5, 3, 40);
            InputShape shape = new InputShape(2, 203, 12, 3);
            Plan plan = Planner.plan(s, shape, 2);
            BlockLayout layout = Planner.layout(s, shape);
            TileList tiles = new TileList();
            for (int b = 0; b < 2; b++) {
                for (int f = 0; f < layout.frameCount(); f++) {
                    for (int qb = 0; qb < layout.numBlocks(); qb++) {
                        for (int h = 0; h < 3; h++) {
                            layout.keyBlocks(f, h, qb, tiles);
                            for (int t = 0; t < tiles.size(); t++) {
                                int covering = 0;
                                for (WorkUnit u : plan.units()) {
                                    if (u.batch() == b && u.frame() == f && qb >= u.fromBlock() && qb < u.toBlock()
                                            && t >= u.fromKey() && t < u.toKey()) {
                                        covering++;
                                    }
                                }
                                assertEquals(1, covering, mode + ": tile " + t + " of query block " + qb);
                            }
                        }
                    }
                }
            }
            int inPartitions = plan.partitions().stream().mapToInt(List::size).sum();
            int inPlace = plan.inPlace().stream().mapToInt(List::size).sum();
            assertEquals(plan.units().size(), inPartitions + inPlace, "every unit in one partition or shard task");
        }
    }

    @Test
    void rowsSplitOnlyWhenTheyHaveMoreKeyBlocksThanAChunk() {
        Plan plan = Planner.plan(settings("all", 0, 16, 2, 3, 4, 64), new InputShape(1, 160, 8, 2), 2);
        // Query block b has b + 1 key blocks in chunks of 4: blocks 0..3 are whole, 4..7 in two
        // chunks and 8..9 in three, each range one unit per chunk; 6 blocks of 16 rows are merged.
        List<String> expected = List.of("0-4 whole", "4-8 chunk 0 [0, 4)", "4-8 chunk 1 [4, 8)",
                "8-10 chunk 0 [0, 4)", "8-10 chunk 1 [4, 8)", "8-10 chunk 2 [8, 12)");
        List<String> units = plan.units().stream().map(u -> u.fromBlock() + "-" + u.toBlock()
                + (u.isSplit() ? " chunk " + u.chunk() + " [" + u.fromKey() + ", " + u.toKey() + ")" : " whole")).toList();
        assertEquals(expected, units);
        // Tiles per unit over both heads: whole rows 1 + 2 + 3 + 4; a chunk its blocks' tiles in it.
        assertEquals(List.of(2L * 10, 2L * 16, 2L * (1 + 2 + 3 + 4), 2L * 8, 2L * 8, 2L * (1 + 2)),
                plan.units().stream().map(WorkUnit::tiles).toList());
        assertEquals(6 * 16, plan.figures().mergedRows());
    }

    /**
     * strided alone is computed in residue order, so no unit is in place although the 4 shards
     * would allow it: tiles per task are over the one partition, not the shard tasks with nothing
     * in place, which are not counted.
     */
    @Test
    void tilesPerTaskCountOnlyTasksThatComputeUnits() {
        Plan plan = Planner.plan(settings("strided", 16, 16, 2, 1, 64, 64), new InputShape(1, 16384, 8, 2), 2);
        PlanFigures figures = plan.figures();
        assertEquals(0, figures.inPlaceUnits());
        assertEquals(4, plan.inPlace().size(), "four shards, planned for units in place");
        assertEquals(0, figures.shardTasks());
        assertEquals(1, figures.partitions());
        assertEquals(figures.tiles(), figures.meanTilesPerTask(), 1e-9);
    }

    /** A range of blocks split into the same number of chunks holds at most 8 of them, whatever --unit-tiles. */
    @Test
    void rangesOfSplitRowsHoldAtMostEightBlocks() {
        // Blocks of 4 rows, 16 key blocks per chunk: blocks 16..31 in two chunks, 32..39 in three.
        Plan plan = Planner.plan(settings("all", 0, 4, 1, 1, 16, 100_000), new InputShape(1, 160, 8, 1), 1);
        List<String> ranges = plan.units().stream().filter(u -> u.chunk() == 0)
                .map(u -> u.fromBlock() + "-" + u.toBlock()).toList();
        assertEquals(List.of("0-16", "16-24", "24-32", "32-40"), ranges);
        assertEquals(1 + 2 + 2 + 3, plan.units().size());
    }

    @Test
    void unitsDoNotDependOnThePartitionCount() {
        InputShape shape = new InputShape(2, 1000, 16, 2);
        List<WorkUnit> first = Planner.plan(settings("local+strided", 40, 16, 2, 1, 8, 30), shape, 2).units();
        for (int partitions : new int[] {3, 7, 50}) {
            assertEquals(first, Planner.plan(settings("local+strided", 40, 16, 2, partitions, 8, 30), shape, 2).units());
        }
    }

    @Test
    void partitionsAreBalancedWithinTenPercentOnUnevenPatterns() {
        // all: query block i has i + 1 key blocks, so work grows along the sequence; local+strided
        // has a residue-order frame whose query rows have few tiles each.
        for (String mode : List.of("all", "local+strided", "strided,local")) {
            JobSettings s = settings(mode, 256, 64, 4, 7, 64, 32);
            InputShape shape = new InputShape(1, 16384, 32, 4);
            // Four shards on four slots: too few shards to compute any unit in place.
            Plan plan = Planner.plan(s, shape, 4);
            assertEquals(7, plan.figures().partitions());
            assertEquals(0, plan.figures().inPlaceUnits());
            BlockLayout layout = Planner.layout(s, shape);
            Planner.Reads[] reads = Planner.reads(layout, plan.units());
            long max = 0;
            long total = 0;
            for (List<WorkUnit> group : plan.partitions()) {
                long cost = 0;
                for (WorkUnit u : group) {
                    cost += Planner.cost(layout, shape, u, reads[u.index()]);
                }
                max = Math.max(max, cost);
                total += cost;
            }
            double imbalance = max / (total / 7.0);
            assertTrue(imbalance <= 1.10, mode + ": max/mean estimated work " + imbalance);
        }
    }

    @Test
    void unitsOfTheOriginalOrderWithinOneShardAreComputedInPlace() {
        // Shards of 40 rows, blocks of 16: blocks 2 (rows 32-47) and 4 (rows 64-79) straddle shards.
        JobSettings s = new JobSettings("q.npy", "k.npy", "v.npy", "out", 2, "local+strided", 32, 16, 1, 1,
                Double.NaN, 0, 64, 6, 40, false, false, false, false);
        InputShape shape = new InputShape(2, 203, 8, 2);
        BlockLayout layout = Planner.layout(s, shape);
        Plan plan = Planner.plan(s, shape, 2);
        assertEquals(2 * 6, plan.inPlace().size(), "shards of both batch items");
        assertTrue(plan.figures().inPlaceUnits() > 0);
        for (int shard = 0; shard < plan.inPlace().size(); shard++) {
            for (WorkUnit u : plan.inPlace().get(shard)) {
                BlockGrid grid = layout.grid(u.frame());
                assertTrue(grid.frame().isIdentity(), u.describe());
                int first = grid.blockStart(u.fromBlock());
                int last = grid.blockEnd(u.toBlock() - 1) - 1;
                assertEquals(shard, u.batch() * 6 + first / 40, u.describe());
                assertEquals(first / 40, last / 40, u.describe() + " stays in its shard");
            }
        }
        for (List<WorkUnit> partition : plan.partitions()) {
            for (WorkUnit u : partition) {
                BlockGrid grid = layout.grid(u.frame());
                boolean straddles = grid.blockStart(u.fromBlock()) / 40 != (grid.blockEnd(u.toBlock() - 1) - 1) / 40;
                assertTrue(!grid.frame().isIdentity() || straddles && u.toBlock() == u.fromBlock() + 1,
                        u.describe() + " is shuffled only if in another order or a straddling block of its own");
            }
        }
        // Fewer than two shards per slot: nothing in place.
        assertEquals(0, Planner.plan(s, shape, 8).figures().inPlaceUnits());
    }

    /**
     * Rows of `fixed` split into chunks of 3 key blocks (and the two frames of local+strided): each
     * unit's reads, and a task's rows read with its chunk units apart (the order of a shard task),
     * against a count from every head's own tile list.
     */
    @ParameterizedTest
    @CsvSource({"fixed, 150", "local+strided, 150", "fixed+strided, 150", "local+strided, 3"})
    void readsOfChunkUnitsMatchTheirOwnTileLists(String mode, int seqLen) {
        // At L=3, one block: both frames' only unit is query block 0, listed for each frame.
        JobSettings s = new JobSettings("q.npy", "k.npy", "v.npy", "out", 4, mode, 16, 4, 2, 1, Double.NaN, 0, 3,
                10, 64, false, false, false, false);
        InputShape shape = new InputShape(2, seqLen, 8, 4);
        BlockLayout layout = Planner.layout(s, shape);
        List<WorkUnit> units = Planner.units(layout, shape.batch(), 3, 10, 64, Planner.maxUnitRows(shape));
        assertTrue(seqLen < 150 || units.stream().filter(u -> u.chunk() == 1).mapToInt(u -> u.toBlock() - u.fromBlock())
                .sum() > 10, "rows split into chunks");
        Planner.Reads[] reads = Planner.reads(layout, units);
        List<int[]> keyRows = new ArrayList<>();
        for (WorkUnit u : units) {
            BlockGrid grid = layout.grid(u.frame());
            BitSet blocks = new BitSet();
            TileList tiles = new TileList();
            for (int qb = u.fromBlock(); qb < u.toBlock(); qb++) {
                for (int h = 0; h < layout.heads(); h++) {
                    layout.keyBlocks(u.frame(), h, qb, tiles);
                    for (int t = u.fromKey(); t < Math.min(u.toKey(), tiles.size()); t++) {
                        blocks.set(tiles.keyBlock(t));
                    }
                }
            }
            BitSet queries = new BitSet();
            BitSet keys = new BitSet();
            for (int qb = u.fromBlock(); qb < u.toBlock(); qb++) {
                for (int r = grid.blockStart(qb); r < grid.blockEnd(qb); r++) {
                    queries.set(grid.frame().original(r));
                }
            }
            blocks.stream().forEach(kb -> {
                for (int r = grid.blockStart(kb); r < grid.blockEnd(kb); r++) {
                    keys.set(grid.frame().original(r));
                }
            });
            long runs = runsOf(queries) + 2L * runsOf(keys);
            assertEquals(new Planner.Reads(queries.cardinality() + 2L * keys.cardinality(), runs, keys.cardinality()),
                    reads[u.index()], u.describe());
            keyRows.add(keys.stream().map(p -> p + u.batch() * shape.seqLen()).toArray());
        }
        // A task computing chunk 0 of every unit, then chunk 1, ...: a unit reads the rows the one before did not.
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < units.size(); i++) {
            order.add(i);
        }
        order.sort(java.util.Comparator.comparingInt((Integer i) -> units.get(i).chunk()).thenComparingInt(i -> i));
        List<WorkUnit> task = new ArrayList<>();
        long expected = 0;
        BitSet heldQueries = new BitSet();
        BitSet heldKeys = new BitSet();
        for (int i : order) {
            WorkUnit u = units.get(i);
            task.add(u);
            BlockGrid grid = layout.grid(u.frame());
            BitSet queries = new BitSet();
            for (int qb = u.fromBlock(); qb < u.toBlock(); qb++) {
                for (int r = grid.blockStart(qb); r < grid.blockEnd(qb); r++) {
                    queries.set(u.batch() * shape.seqLen() + grid.frame().original(r));
                }
            }
            BitSet keys = new BitSet();
            for (int p : keyRows.get(i)) {
                keys.set(p);
            }
            BitSet freshQueries = (BitSet) queries.clone();
            freshQueries.andNot(heldQueries);
            BitSet freshKeys = (BitSet) keys.clone();
            freshKeys.andNot(heldKeys);
            expected += freshQueries.cardinality() + 2L * freshKeys.cardinality();
            heldQueries = queries;
            heldKeys = keys;
        }
        assertEquals(expected, Planner.rowsRead(layout, task));
    }

    private static long runsOf(BitSet positions) {
        long runs = 0;
        for (int p = positions.nextSetBit(0); p >= 0; p = positions.nextSetBit(p + 1)) {
            if (p == 0 || !positions.get(p - 1)) {
                runs++;
            }
        }
        return runs;
    }

    /**
     * local, l=24 with blocks of 8: a unit's keys reach three blocks back into the unit before.
     * fixed, l=24: its keys are also the summary columns of every window before, which every later
     * unit reads too. Shards of 64 rows: the straddling blocks shuffled to partitions are 64 rows apart.
     */
    @ParameterizedTest
    @ValueSource(strings = {"local", "fixed"})
    void rowsReadCountKeyRowsThatConsecutiveUnitsShareOnce(String mode) {
        JobSettings s = new JobSettings("q.npy", "k.npy", "v.npy", "out", 2, mode, 24, 8, 1, 1, Double.NaN, 0, 64,
                12, 64, false, false, false, false);
        InputShape shape = new InputShape(2, 203, 8, 2);
        BlockLayout layout = Planner.layout(s, shape);
        Plan plan = Planner.plan(s, shape, 2);
        assertTrue(plan.figures().inPlaceUnits() > 0);
        // Every task reads each query row and each key row (for k and for v) of its units once.
        long expected = 0;
        long perUnit = 0;
        List<List<WorkUnit>> tasks = new ArrayList<>(plan.partitions());
        tasks.addAll(plan.inPlace());
        for (List<WorkUnit> task : tasks) {
            BitSet queries = new BitSet();
            BitSet keys = new BitSet();
            for (WorkUnit u : task) {
                BlockGrid grid = layout.grid(u.frame());
                int offset = u.batch() * shape.seqLen();
                int[] q = Planner.positions(grid, Planner.range(u.fromBlock(), u.toBlock()));
                int[] k = Planner.positions(grid, Planner.keyBlocks(layout, u));
                for (int p : q) {
                    queries.set(offset + p);
                }
                for (int p : k) {
                    keys.set(offset + p);
                }
                perUnit += q.length + 2L * k.length;
            }
            expected += queries.cardinality() + 2L * keys.cardinality();
        }
        assertEquals(expected, plan.figures().rowsRead());
        assertTrue(expected < perUnit, expected + " rows read against " + perUnit + " unit by unit");
    }

    @Test
    void shardTasksWithTheMostWorkRunFirst() {
        // all: each row attends its whole prefix, so later shards have more work.
        JobSettings s = new JobSettings("q.npy", "k.npy", "v.npy", "out", 2, "all", 0, 16, 1, 1, Double.NaN, 0, 64, 64,
                128, false, false, false, false);
        Plan plan = Planner.plan(s, new InputShape(1, 1024, 8, 2), 2);
        assertEquals(List.of(7, 6, 5, 4, 3, 2, 1, 0), plan.shardOrder());
        // local: equal work, shard order kept.
        JobSettings local = new JobSettings("q.npy", "k.npy", "v.npy", "out", 2, "local", 32, 16, 1, 1, Double.NaN, 0,
                64, 64, 128, false, false, false, false);
        List<Integer> order = Planner.plan(local, new InputShape(1, 1024, 8, 2), 2).shardOrder();
        assertEquals(0, order.get(order.size() - 1), "the first shard, with the fewest keys, last: " + order);
        assertEquals(8, order.stream().distinct().count());
    }

    /** A unit's partial result is shuffled as one byte array: wide rows make units of fewer rows. */
    @Test
    void aUnitsPartialResultFitsOneByteArray() {
        // E=8192: 65,536 rows of one unit (1,024 blocks of `local`'s 2 tiles) would need 2.1 GB.
        JobSettings s = new JobSettings("q.npy", "k.npy", "v.npy", "out", 1, "local", 64, 64, 1, 1, Double.NaN, 0, 64,
                2048, 65536, false, false, false, false);
        InputShape shape = new InputShape(1, 131072, 8192, 1);
        BlockLayout layout = Planner.layout(s, shape);
        long rowBytes = Float.BYTES * (1L + 8192 + 1);
        int covered = 0;
        for (WorkUnit u : Planner.plan(s, shape, 2).units()) {
            BlockGrid grid = layout.grid(u.frame());
            int rows = grid.blockEnd(u.toBlock() - 1) - grid.blockStart(u.fromBlock());
            assertTrue(rows * rowBytes <= Integer.MAX_VALUE - 8, u.describe() + ": " + rows + " rows");
            covered += rows;
        }
        assertEquals(131072, covered);
        // A single block too wide for one array is refused before anything runs, naming the option.
        JobSettings wide = settings("local", 64, 1024, 1, 0, 64, 2048);
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> Planner.layout(wide, new InputShape(1, 4096, 1 << 20, 1)));
        assertTrue(e.getMessage().startsWith("--block-size 1024: a block's partial result of 1024 rows"),
                e.getMessage());
        // And one whose scores against itself would not fit one array.
        JobSettings square = settings("all", 0, 50000, 1, 0, 64, 2048);
        InvalidInputException scores = assertThrows(InvalidInputException.class,
                () -> Planner.layout(square, new InputShape(1, 50000, 8, 1)));
        assertTrue(scores.getMessage().startsWith("block size (--block-size) 50000: the scores of a block's"),
                scores.getMessage());
        // Or whose longest pass would not, before Spark starts: `all` in blocks of 8192, whose 32nd block
        // has a pass of 32 key blocks, 2^31 scores.
        JobSettings wide8k = settings("all", 0, 8192, 1, 0, 64, 2048);
        InvalidInputException pass = assertThrows(InvalidInputException.class,
                () -> Planner.layout(wide8k, new InputShape(1, 32 * 8192, 8, 1)));
        assertTrue(pass.getMessage().startsWith("block size (--block-size) 8192: the scores of a block's 8192 rows"
                + " against 262144 key rows of one pass (32 key blocks)"), pass.getMessage());
        // With 31 blocks the longest pass, 31 x 8192 x 8192 scores, fits; so does a 32nd block of fewer rows,
        // whose pass has fewer query rows; and 40 blocks at --max-key-blocks 31 split every row to 31 blocks.
        Planner.layout(wide8k, new InputShape(1, 31 * 8192, 8, 1));
        Planner.layout(wide8k, new InputShape(1, 31 * 8192 + 8000, 8, 1));
        Planner.layout(settings("all", 0, 8192, 1, 0, 31, 2048), new InputShape(1, 40 * 8192, 8, 1));
        // 34 to 40 tiles are one pass, above 40 parts of 32: blocks of 8000 at 41 blocks pass 34 x 8000 keys.
        assertThrows(InvalidInputException.class,
                () -> Planner.layout(settings("all", 0, 8000, 1, 0, 64, 2048), new InputShape(1, 41 * 8000, 8, 1)));
    }

    @Test
    void unitsOfAReorderedFrameHoldManyRows() {
        // L=65536, l=1024: residue classes of 64 rows; units of 2048 tiles would hold a few classes.
        JobSettings s = settings("local+strided", 1024, 64, 8, 0, 64, 2048);
        InputShape shape = new InputShape(1, 65536, 512, 8);
        BlockLayout layout = Planner.layout(s, shape);
        List<WorkUnit> units = Planner.plan(s, shape, 2).units();
        int reordered = 0;
        for (WorkUnit u : units) {
            BlockGrid grid = layout.grid(u.frame());
            int rows = grid.blockEnd(u.toBlock() - 1) - grid.blockStart(u.fromBlock());
            if (!grid.frame().isIdentity()) {
                reordered++;
                assertTrue(rows >= 65536 / 32 || u.toBlock() == grid.numBlocks(), u.describe() + ": " + rows + " rows");
            }
        }
        assertTrue(reordered > 1 && reordered <= 32, reordered + " units in residue order");
    }

    @Test
    void rowsWithFewTilesWeighMoreThanTheirTiles() {
        JobSettings s = settings("local+strided", 1024, 64, 8, 2, 64, 4096);
        InputShape shape = new InputShape(1, 65536, 512, 8);
        // Sixteen shards on sixteen slots: every unit is shuffled.
        Plan plan = Planner.plan(s, shape, 16);
        List<List<WorkUnit>> parts = plan.partitions();
        assertEquals(2, parts.size());
        // The second partition holds the residue-order units: fewer tiles, as many rows to handle.
        assertTrue(parts.get(1).stream().anyMatch(u -> u.frame() == 1));
        long first = parts.get(0).stream().mapToLong(WorkUnit::tiles).sum();
        long second = parts.get(1).stream().mapToLong(WorkUnit::tiles).sum();
        assertTrue(second < 0.9 * first, "tiles " + first + " and " + second);
    }

    @Test
    void readsCountRowsAndSeparateReads() {
        InputShape shape = new InputShape(1, 32, 4, 1);
        JobSettings local = settings("local", 8, 4, 1, 1, 64, 1000);
        List<WorkUnit> units = Planner.plan(local, shape, 1).units();
        assertEquals(1, units.size());
        // All 32 rows as queries and as keys, each tensor in one read: one run from position 0.
        assertEquals(new Planner.Reads(32 + 2 * 32, 3, 32),
                Planner.reads(Planner.layout(local, shape), units)[0]);
        // Residue order with stride 8 and blocks of 4: the one unit covering classes 0..7 reads every
        // row, but rows of one class are 8 apart, so each row is a read of its own...
        JobSettings strided = settings("strided", 8, 4, 1, 1, 64, 1000);
        List<WorkUnit> stridedUnits = Planner.plan(strided, shape, 1).units();
        Planner.Reads all = Planner.reads(Planner.layout(strided, shape), stridedUnits)[stridedUnits.size() - 1];
        assertEquals(3 * 32, all.rows());
        // ...except that consecutive classes make consecutive positions: one run of 32 per tensor.
        assertEquals(3, all.runs());
        assertEquals(32, all.keyRows());
        // A unit of one class (stride 8, 4 rows) reads 4 rows 8 apart: 4 runs per tensor.
        BlockLayout layout = Planner.layout(strided, shape);
        WorkUnit oneClass = new WorkUnit(0, 0, 0, 0, 1, 0, 0, Integer.MAX_VALUE, 1);
        Planner.Reads first = Planner.reads(layout, List.of(oneClass))[0];
        assertEquals(new Planner.Reads(3 * 4, 3 * 4, 4), first, oneClass.describe());
    }

    @Test
    void unitsReadExactlyTheRowsOfTheirTiles() {
        JobSettings s = settings("local+strided", 12, 4, 2, 3, 2, 10);
        InputShape shape = new InputShape(1, 61, 4, 2);
        BlockLayout layout = Planner.layout(s, shape);
        TileList tiles = new TileList();
        for (WorkUnit u : Planner.plan(s, shape, 2).units()) {
            BlockGrid grid = layout.grid(u.frame());
            BitSet needed = new BitSet();
            for (int qb = u.fromBlock(); qb < u.toBlock(); qb++) {
                for (int h = 0; h < 2; h++) {
                    layout.keyBlocks(u.frame(), h, qb, tiles);
                    for (int t = Math.max(0, u.fromKey()); t < Math.min(u.toKey(), tiles.size()); t++) {
                        int kb = tiles.keyBlock(t);
                        for (int r = grid.blockStart(kb); r < grid.blockEnd(kb); r++) {
                            needed.set(grid.frame().original(r));
                        }
                    }
                }
            }
            int[] read = Planner.positions(grid, Planner.keyBlocks(layout, u));
            assertEquals(needed.stream().boxed().toList(), java.util.Arrays.stream(read).boxed().toList(), u.describe());
        }
    }

    @Test
    void partitionsGrowWithTheShuffledOutputSoThatATasksShareDoesNot() {
        // L=65536, E=512, 8 heads: the residue-order frame's pieces are 65536 rows of 521 values,
        // in 32 units of 2048 rows (units of 64 tiles hold at least a 32nd of the frame).
        JobSettings s = settings("local+strided", 1024, 64, 8, 0, 64, 64);
        InputShape shape = new InputShape(1, 65536, 512, 8);
        long pieces = 65536L * (1 + 512 + 8) * 4;
        assertEquals(Planner.PARTITIONS_PER_SLOT * 2, Planner.plan(s, shape, 2).partitions().size(),
                "the default below the bound");
        BlockLayout layout = Planner.layout(s, shape);
        for (int parts : new int[] {10, 13}) {
            long bound = pieces / parts;
            List<List<WorkUnit>> partitions = Planner.plan(s, shape, 2, bound).partitions();
            // Units are grouped in order, so a partition may end a unit short of another's size.
            assertTrue(partitions.size() >= parts, partitions.size() + " partitions for " + parts + " bounds' worth");
            for (List<WorkUnit> partition : partitions) {
                long bytes = 0;
                for (WorkUnit u : partition) {
                    BlockGrid grid = layout.grid(u.frame());
                    bytes += (grid.blockEnd(u.toBlock() - 1) - grid.blockStart(u.fromBlock())) * (1L + 512 + 8) * 4;
                }
                assertTrue(bytes <= bound, bytes + " bytes of pieces in a partition, bound " + bound);
            }
        }
    }

    @Test
    void settingsRecordTheModeWithoutSpaces() {
        JobSettings spaced = settings(" local , strided+ all ", 4, 16, 4, 0, 64, 6);
        assertEquals("local,strided+all", spaced.mode());
        assertEquals(settings("local,strided+all", 4, 16, 4, 0, 64, 6).pattern().describe(),
                spaced.pattern().describe());
    }

    /**
     * A unit's key rows go into one array of E values per row: a unit that could not have them
     * (at L = 1,048,576 and E = 4096 with all keys in one chunk, 2^32 values) is refused by the planner,
     * naming the settings that make units smaller; the largest that fits is not.
     */
    @Test
    void aUnitWhoseKeyRowsNoArrayHoldsIsRefused() {
        JobSettings settings = settings("all", 0, 64, 32, 0, 16384, 2048);
        InputShape shape = new InputShape(1, 1 << 20, 4096, 32);
        WorkUnit unit = new WorkUnit(0, 0, 0, 16383, 16384, 0, 0, Integer.MAX_VALUE, 16384);
        InvalidInputException refused = assertThrows(InvalidInputException.class,
                () -> Planner.requireKeysFit(settings, shape, unit, 1 << 20));
        assertEquals("--max-key-blocks 16384, --unit-tiles 2048: query blocks 16383 to 16383 of frame 0 read 1048576 key"
                + " rows x E = 1048576 x 4096 = 4294967296 values, more than one array holds (2147483639); choose a"
                + " smaller --max-key-blocks or --unit-tiles", refused.getMessage());
        Planner.requireKeysFit(settings, shape, unit, (Integer.MAX_VALUE - 8) / 4096);
        // A range of rows split into chunks: --unit-tiles does not size it.
        JobSettings halves = settings("all", 0, 64, 32, 0, 8192, 2048);
        WorkUnit chunk = new WorkUnit(1, 0, 0, 16376, 16384, 1, 8192, 16384, 16384);
        InvalidInputException split = assertThrows(InvalidInputException.class,
                () -> Planner.requireKeysFit(halves, shape, chunk, 1 << 20));
        assertEquals("--max-key-blocks 8192: query blocks 16376 to 16383 of frame 0, key chunk 1 read 1048576 key"
                + " rows x E = 1048576 x 4096 = 4294967296 values, more than one array holds (2147483639); choose a"
                + " smaller --max-key-blocks", split.getMessage());
    }

    /** More output shards than a run writes is refused before the layout is made, naming --shard-rows. */
    @Test
    void tooManyShardsAreRefused() {
        JobSettings one = new JobSettings("q.npy", "k.npy", "v.npy", "out", 1, "local", 64, 64, 1, 1, Double.NaN, 0, 64,
                2048, 1, false, false, false, false);
        InvalidInputException refused = assertThrows(InvalidInputException.class,
                () -> Planner.layout(one, new InputShape(2, 600_000, 8, 1)));
        assertEquals("--shard-rows 1: B x ceil(L / --shard-rows) = 2 x 600000 = 1200000 output shards, more than the"
                + " 1048576 a run writes; choose a larger --shard-rows", refused.getMessage());
        Planner.layout(one, new InputShape(1, 600_000, 8, 1));
    }
}
