package org.sparseattention.job;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.TreeMap;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;
import org.sparseattention.io.NpyFile;
import org.sparseattention.io.NpyHeader;
import org.sparseattention.io.Storage;
import org.sparseattention.kernel.BlockSparseKernel;
import org.sparseattention.kernel.Partial;
import org.sparseattention.layout.BlockGrid;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.plan.InputShape;
import org.sparseattention.plan.JobSettings;
import org.sparseattention.plan.Planner;
import org.sparseattention.plan.WorkUnit;
import org.apache.spark.TaskContext;
import scala.Tuple2;

/**
 * One task's work on an executor: for each unit, read exactly the rows it needs, run the kernel,
 * and cut the partial result into pieces by output shard. Lazy: one unit in memory at a time.
 */
final class UnitTask implements Iterator<Tuple2<Integer, Piece>> {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(UnitTask.class);
    private final JobSettings settings;
    private final InputShape shape;
    private final Iterator<WorkUnit> units;
    private final BlockLayout layout;
    private final BlockSparseKernel kernel;
    private final Storage storage;
    private final ArrayDeque<Tuple2<Integer, Piece>> ready = new ArrayDeque<>();
    private final Tensor q;
    private final Tensor k;
    private final Tensor v;
    private boolean started;
    /** Row buffers of q, k and v, reused from unit to unit (large arrays are costly to collect). */
    private final float[][] buffers = new float[3][0];
    /** Slot tables of the query rows and of the key and value rows, reused likewise. */
    private final int[][] slots = new int[2][0];
    /** Bytes between the file and the row buffers. */
    private final byte[] scratch = new byte[NpyFile.READ_CHUNK];
    private boolean finished;
    private long readNanos;
    private long computeNanos;
    private long splitNanos;
    private int done;
    /** Per frame: units, tiles, kernel nanoseconds and reading nanoseconds, for the task's log line. */
    private final TreeMap<Integer, long[]> byFrame = new TreeMap<>();
    private final long created = System.nanoTime();
    private long warmUpNanos;

    /** An open input tensor. */
    private record Tensor(String uri, NpyHeader header, Storage.Input input) {
    }

    UnitTask(JobSettings settings, InputShape shape, List<WorkUnit> units, Storage storage) throws IOException {
        BlockSparseKernel.warmUp();
        warmUpNanos = System.nanoTime() - created;
        this.settings = settings;
        this.shape = shape;
        this.units = units.iterator();
        this.layout = Planner.layout(settings, shape);
        this.kernel = new BlockSparseKernel(layout, shape.headDim(), settings.scaleFor(shape.headDim()));
        this.storage = storage;
        Tensor[] opened = new Tensor[3];
        try {
            opened[0] = open(settings.q());
            opened[1] = open(settings.k());
            opened[2] = open(settings.v());
        } catch (IOException | RuntimeException e) {
            closeAll(opened);
            throw e;
        }
        this.q = opened[0];
        this.k = opened[1];
        this.v = opened[2];
        TaskContext task = TaskContext.get();
        if (task != null) {
            task.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) context -> close());
        }
    }

    private Tensor open(String uri) throws IOException {
        return new Tensor(uri, NpyFile.readHeader(storage, uri), storage.open(uri));
    }

    @Override
    public boolean hasNext() {
        while (ready.isEmpty() && units.hasNext()) {
            compute(units.next());
        }
        if (ready.isEmpty()) {
            if (finished) {
                return false;
            }
            finished = true;
            close();
            StringBuilder frames = new StringBuilder();
            byFrame.forEach((frame, f) -> frames.append(String.format("; frame %d: %d units, %d tiles, reading %.2f s,"
                    + " kernel %.2f s", frame, f[0], f[1], f[3] / 1e9, f[2] / 1e9)));
            LOG.info(String.format("task finished %d units in %.2f s: warm-up %.2f s, reading %.2f s, kernel %.2f s,"
                    + " cutting into pieces %.2f s%s", done, (System.nanoTime() - created) / 1e9, warmUpNanos / 1e9,
                    readNanos / 1e9, computeNanos / 1e9, splitNanos / 1e9, frames));
            return false;
        }
        return true;
    }

    @Override
    public Tuple2<Integer, Piece> next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        return ready.removeFirst();
    }

    private void close() {
        closeAll(new Tensor[] {q, k, v});
    }

    /** Closes the given inputs; closing twice is harmless. */
    private static void closeAll(Tensor[] tensors) {
        for (Tensor t : tensors) {
            if (t == null) {
                continue;
            }
            try {
                t.input().close();
            } catch (IOException ignored) {
                // Read-only handles: nothing to lose.
            }
        }
    }

    private void compute(WorkUnit unit) {
        try {
            FaultInjection.beforeUnit(unit, !started);
            started = true;
            BlockGrid grid = layout.grid(unit.frame());
            int[] queryPositions = Planner.positions(grid, Planner.range(unit.fromBlock(), unit.toBlock()));
            int[] keyPositions = Planner.positions(grid, Planner.keyBlocks(layout, unit));
            long clock = System.nanoTime();
            SparseRows queries = rows(queryPositions, read(q, 0, unit.batch(), queryPositions), 0);
            SparseRows keys = rows(keyPositions, read(k, 1, unit.batch(), keyPositions), 1);
            SparseRows values = keys.withData(read(v, 2, unit.batch(), keyPositions));
            long read = System.nanoTime();
            long before = kernel.allowedPairs();
            Partial partial = kernel.compute(queries, keys, values, unit.frame(), unit.fromBlock(), unit.toBlock(),
                    unit.fromKey(), unit.toKey());
            long computed = System.nanoTime();
            split(unit, partial, kernel.allowedPairs() - before);
            readNanos += read - clock;
            computeNanos += computed - read;
            splitNanos += System.nanoTime() - computed;
            done++;
            long[] frame = byFrame.computeIfAbsent(unit.frame(), f -> new long[4]);
            frame[0]++;
            frame[1] += unit.tiles();
            frame[2] += computed - read;
            frame[3] += read - clock;
        } catch (InvalidInputException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new SparseAttentionException(unit.describe() + " failed: " + e, e);
        }
    }

    /**
     * Reads rows {@code positions} (ascending) of one batch item into row buffer {@code buffer},
     * run by run, checks their values and returns the buffer.
     */
    private float[] read(Tensor tensor, int buffer, int batch, int[] positions) throws IOException {
        int rowLength = shape.features();
        if (buffers[buffer].length < positions.length * rowLength) {
            buffers[buffer] = new float[positions.length * rowLength];
        }
        float[] data = buffers[buffer];
        int i = 0;
        while (i < positions.length) {
            int j = i + 1;
            while (j < positions.length && positions[j] == positions[j - 1] + 1) {
                j++;
            }
            NpyFile.readRows(tensor.input(), tensor.header(), batch, positions[i], j - i, data, i * rowLength, scratch);
            i = j;
        }
        if (!settings.allowNonfinite()) {
            int e = NpyFile.firstNonFinite(data, 0, positions.length * rowLength);
            if (e >= 0) {
                throw new InvalidInputException(tensor.uri() + ": non-finite value " + data[e] + " at batch "
                        + batch + ", row " + positions[e / rowLength] + ", feature " + e % rowLength
                        + " (pass --allow-nonfinite to compute with it)");
            }
        }
        return data;
    }

    /** Returns rows {@code positions} held in {@code data}, found through slot table {@code slotTable}. */
    private SparseRows rows(int[] positions, float[] data, int slotTable) {
        int span = positions.length == 0 ? 0 : positions[positions.length - 1] - positions[0] + 1;
        if (slots[slotTable].length < span) {
            slots[slotTable] = new int[span];
        }
        int base = positions.length == 0 ? 0 : SparseRows.index(positions, slots[slotTable]);
        return new SparseRows(positions, data, shape.features(), slots[slotTable], base);
    }

    /** Cuts a partial result into one piece per output shard, rows in ascending position. */
    private void split(WorkUnit unit, Partial partial, long allowedPairs) {
        int shardRows = settings.shardRows();
        int[] positions = partial.positions();
        int[] order = ascendingOrder(positions, partial.rows());
        int start = 0;
        boolean first = true;
        while (start < order.length) {
            int shard = positions[order[start]] / shardRows;
            int end = start;
            while (end < order.length && positions[order[end]] / shardRows == shard) {
                end++;
            }
            int shardId = shardId(unit.batch(), shard);
            ready.add(new Tuple2<>(shardId, Piece.of(unit.frame(), unit.chunk(), unit.index(), partial, order, start,
                    end - start, first ? allowedPairs : 0)));
            first = false;
            start = end;
        }
    }

    /** Returns the indexes of the first {@code rows} positions in increasing order of position. */
    private static int[] ascendingOrder(int[] positions, int rows) {
        long[] keyed = new long[rows];
        for (int r = 0; r < rows; r++) {
            keyed[r] = (long) positions[r] << 32 | r;
        }
        Arrays.sort(keyed);
        int[] order = new int[rows];
        for (int r = 0; r < rows; r++) {
            order[r] = (int) keyed[r];
        }
        return order;
    }

    /** Returns the id of shard {@code shard} of batch item {@code batch}. */
    int shardId(int batch, int shard) {
        return batch * shardsPerBatch(shape, settings) + shard;
    }

    static int shardsPerBatch(InputShape shape, JobSettings settings) {
        return (int) ((shape.seqLen() + (long) settings.shardRows() - 1) / settings.shardRows());
    }
}
