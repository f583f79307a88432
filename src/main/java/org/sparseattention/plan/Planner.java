package org.sparseattention.plan;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
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
        return BlockLayout.of(settings.pattern(), shape.seqLen(), settings.blockSize(), settings.heads());
    }

    /** Plans a run; {@code defaultPartitions} is used when the settings leave the count at 0. */
    public static Plan plan(JobSettings settings, InputShape shape, int defaultPartitions) {
        BlockLayout layout = layout(settings, shape);
        List<WorkUnit> units = units(layout, shape.batch(), settings.maxKeyBlocks(), settings.unitTiles());
        int partitions = settings.partitions() > 0 ? settings.partitions() : Math.max(1, defaultPartitions);
        List<List<WorkUnit>> groups = balance(units, Math.min(partitions, Math.max(1, units.size())));
        return new Plan(settings, shape, units, groups, figures(layout, shape, units, groups));
    }

    /** Returns the units of a layout, in (batch, frame, query block, chunk) order. */
    static List<WorkUnit> units(BlockLayout layout, int batch, int maxKeyBlocks, int unitTiles) {
        List<WorkUnit> units = new ArrayList<>();
        TileList scratch = new TileList();
        for (int b = 0; b < batch; b++) {
            for (int f = 0; f < layout.frameCount(); f++) {
                int blocks = layout.grid(f).numBlocks();
                int start = 0;
                long pending = 0;
                for (int qb = 0; qb < blocks; qb++) {
                    int chunks = SparseForward.chunkCount(layout, f, qb, maxKeyBlocks, scratch);
                    long tiles = tiles(layout, f, qb, 0, Integer.MAX_VALUE, scratch);
                    if (chunks > 1) {
                        if (qb > start) {
                            units.add(new WorkUnit(units.size(), b, f, start, qb, 0, 0, Integer.MAX_VALUE, pending));
                        }
                        for (int c = 0; c < chunks; c++) {
                            int fromKey = (int) Math.min(Integer.MAX_VALUE, (long) c * maxKeyBlocks);
                            int toKey = (int) Math.min(Integer.MAX_VALUE, (long) fromKey + maxKeyBlocks);
                            units.add(new WorkUnit(units.size(), b, f, qb, qb + 1, c, fromKey, toKey,
                                    tiles(layout, f, qb, fromKey, toKey, scratch)));
                        }
                        start = qb + 1;
                        pending = 0;
                        continue;
                    }
                    if (qb > start && pending + tiles > unitTiles) {
                        units.add(new WorkUnit(units.size(), b, f, start, qb, 0, 0, Integer.MAX_VALUE, pending));
                        start = qb;
                        pending = 0;
                    }
                    pending += tiles;
                }
                if (blocks > start) {
                    units.add(new WorkUnit(units.size(), b, f, start, blocks, 0, 0, Integer.MAX_VALUE, pending));
                }
            }
        }
        return units;
    }

    private static long tiles(BlockLayout layout, int frame, int qb, int fromKey, int toKey, TileList scratch) {
        long tiles = 0;
        for (int h = 0; h < layout.heads(); h++) {
            layout.keyBlocks(frame, h, qb, scratch);
            tiles += Math.max(0, Math.min(toKey, scratch.size()) - Math.max(0, fromKey));
        }
        return tiles;
    }

    /**
     * Cuts the unit sequence into at most {@code count} contiguous groups whose largest tile sum
     * is as small as possible (binary search on that bound, filling groups greedily). Neighbouring
     * query ranges stay together, so shared key rows are read by few tasks.
     */
    static List<List<WorkUnit>> balance(List<WorkUnit> units, int count) {
        long low = 1;
        long high = 0;
        for (WorkUnit unit : units) {
            low = Math.max(low, cost(unit));
            high += cost(unit);
        }
        while (low < high) {
            long bound = low + (high - low) / 2;
            if (groupsWithin(units, bound) <= count) {
                high = bound;
            } else {
                low = bound + 1;
            }
        }
        List<List<WorkUnit>> groups = new ArrayList<>();
        List<WorkUnit> current = new ArrayList<>();
        long load = 0;
        for (WorkUnit unit : units) {
            if (!current.isEmpty() && load + cost(unit) > low) {
                groups.add(current);
                current = new ArrayList<>();
                load = 0;
            }
            current.add(unit);
            load += cost(unit);
        }
        if (!current.isEmpty()) {
            groups.add(current);
        }
        return groups;
    }

    private static long cost(WorkUnit unit) {
        return Math.max(1, unit.tiles());
    }

    private static int groupsWithin(List<WorkUnit> units, long bound) {
        int groups = 0;
        long load = 0;
        for (WorkUnit unit : units) {
            if (groups == 0 || load + cost(unit) > bound) {
                groups++;
                load = 0;
            }
            load += cost(unit);
        }
        return groups;
    }

    /** Returns the frame blocks whose rows {@code unit} reads as keys and values, ascending. */
    public static int[] keyBlocks(BlockLayout layout, WorkUnit unit) {
        BitSet blocks = new BitSet();
        TileList tiles = new TileList();
        for (int qb = unit.fromBlock(); qb < unit.toBlock(); qb++) {
            for (int h = 0; h < layout.heads(); h++) {
                layout.keyBlocks(unit.frame(), h, qb, tiles);
                int last = Math.min(unit.toKey(), tiles.size());
                for (int t = Math.max(0, unit.fromKey()); t < last; t++) {
                    blocks.set(tiles.keyBlock(t));
                }
            }
        }
        return blocks.stream().toArray();
    }

    /** Returns the sequence positions of frame blocks {@code blocks}, ascending. */
    public static int[] positions(BlockGrid grid, int[] blocks) {
        int count = 0;
        for (int block : blocks) {
            count += grid.blockRows(block);
        }
        int[] positions = new int[count];
        int at = 0;
        for (int block : blocks) {
            for (int r = grid.blockStart(block); r < grid.blockEnd(block); r++) {
                positions[at++] = grid.frame().original(r);
            }
        }
        java.util.Arrays.sort(positions);
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

    private static PlanFigures figures(BlockLayout layout, InputShape shape, List<WorkUnit> units,
            List<List<WorkUnit>> groups) {
        long maxTiles = 0;
        long totalTiles = 0;
        long maxRows = 0;
        long totalRows = 0;
        for (List<WorkUnit> group : groups) {
            long tiles = 0;
            long rows = 0;
            for (WorkUnit unit : group) {
                tiles += unit.tiles();
                BlockGrid grid = layout.grid(unit.frame());
                rows += grid.blockEnd(unit.toBlock() - 1) - grid.blockStart(unit.fromBlock());
                for (int block : keyBlocks(layout, unit)) {
                    rows += 2L * grid.blockRows(block);
                }
            }
            maxTiles = Math.max(maxTiles, tiles);
            totalTiles += tiles;
            maxRows = Math.max(maxRows, rows);
            totalRows += rows;
        }
        long mergedRows = 0;
        if (layout.frameCount() > 1) {
            mergedRows = (long) shape.batch() * shape.seqLen();
        } else {
            for (WorkUnit unit : units) {
                if (unit.chunk() == 1) {
                    mergedRows += layout.grid(unit.frame()).blockRows(unit.fromBlock());
                }
            }
        }
        long inputRows = 3L * shape.batch() * shape.seqLen();
        return new PlanFigures(units.size(), groups.size(), totalTiles, maxTiles,
                groups.isEmpty() ? 0 : (double) totalTiles / groups.size(), maxRows, totalRows, inputRows, mergedRows);
    }
}
