package org.sparseattention.job;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Locale;
import java.util.TreeMap;
import org.apache.spark.TaskContext;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;
import org.sparseattention.errors.Words;
import org.sparseattention.io.NpyDType;
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

/**
 * Computes units inside one task: reads exactly the rows a unit needs from the open inputs and
 * runs the kernel on them. Row buffers, slot tables and the kernel's result arrays are reused from
 * unit to unit (large arrays are costly to collect), so a result is valid until the next unit.
 * Closed when the task completes, whatever its end.
 */
final class UnitRunner implements AutoCloseable {
    private final JobSettings settings;
    private final InputShape shape;
    private final BlockLayout layout;
    private final BlockSparseKernel kernel;
    private final Tensor q;
    private final Tensor k;
    private final Tensor v;
    /** Row buffers of q, k and v. */
    private final float[][] buffers = new float[3][0];
    /** Slot tables of the query rows and of the key and value rows. */
    private final int[][] slots = new int[2][0];
    /** Rows of one run on their way to a buffer held in another order. */
    private float[] staging = new float[0];
    /** Bytes between the file and the row buffers. */
    private final byte[] scratch = new byte[NpyFile.READ_CHUNK];
    /** The same for float32 inputs, read into it directly; and the places of one run's rows. */
    private final ByteBuffer directScratch = ByteBuffer.allocateDirect(NpyFile.READ_CHUNK);
    private int[] runOffsets = new int[0];
    /**
     * Per row buffer, the rows it holds from its last read when they were one run of positions:
     * the first, how many (0 for none) and their batch item. A unit's key rows overlap the
     * previous unit's in the original order (a local window reaches back into it), and the
     * overlap is moved inside the buffer instead of being read again.
     */
    private final int[] heldFirst = new int[3];
    private final int[] heldCount = new int[3];
    private final int[] heldBatch = new int[3];
    private final long created = System.nanoTime();
    private final long warmUpNanos;
    private long readNanos;
    private long computeNanos;
    private long rowsRead;
    private int done;
    private long lastAllowedPairs;
    /** Per frame: units, tiles, kernel nanoseconds and reading nanoseconds, for the task's log line. */
    private final TreeMap<Integer, long[]> byFrame = new TreeMap<>();

    /** An open input tensor. */
    private record Tensor(String option, String uri, NpyHeader header, Storage.Input input) {
    }

    UnitRunner(JobSettings settings, InputShape shape, Storage storage) throws IOException {
        WarmUp.run();
        warmUpNanos = System.nanoTime() - created;
        this.settings = settings;
        this.shape = shape;
        this.layout = Planner.layout(settings, shape);
        this.kernel = new BlockSparseKernel(layout, shape.headDim(), settings.scaleFor(shape.headDim()));
        Tensor[] opened = new Tensor[3];
        try {
            opened[0] = open(storage, "--q", settings.q(), shape);
            opened[1] = open(storage, "--k", settings.k(), shape);
            opened[2] = open(storage, "--v", settings.v(), shape);
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

    /** Opens an input, refusing one whose shape is not the planned one (replaced while the job ran). */
    private static Tensor open(Storage storage, String option, String uri, InputShape shape) throws IOException {
        NpyHeader header;
        try {
            header = NpyFile.readHeader(storage, uri);
        } catch (SparseAttentionException e) {
            // A file cut short or corrupted after planning: named with its option, as before Spark started.
            SparseAttentionException named = e.naming(option);
            String where = onExecutor();
            // Local files only: a shared file system's file that fails here was moved or deleted since.
            if (where == null || !uri.startsWith("file:") || !(e.getCause() instanceof java.io.FileNotFoundException
                    || e.getCause() instanceof java.nio.file.AccessDeniedException)) {
                throw named;
            }
            // The driver read it before the job: an executor that cannot most likely does not see the same files.
            throw new InvalidInputException(named.getMessage() + " (read by a task on " + where + ", where the driver"
                    + " read it before the job: on a cluster a local file must be at the same path on every executor's"
                    + " machine, or it was moved or deleted since)", e);
        }
        long[] planned = {shape.batch(), shape.seqLen(), shape.features()};
        if (!Arrays.equals(NpyFile.batchShape(header), planned)) {
            throw new InvalidInputException(option + " " + uri + ": field 'shape': expected " + Arrays.toString(planned)
                    + " as when the job was planned, got " + Arrays.toString(header.shape())
                    + ": the file was replaced while the job ran");
        }
        return new Tensor(option, uri, header, storage.open(uri));
    }

    /** Returns "executor N at HOST" inside a cluster's executor, or null in the driver's JVM (local mode, tests). */
    private static String onExecutor() {
        org.apache.spark.SparkEnv env = org.apache.spark.SparkEnv.get();
        if (env == null || TaskContext.get() == null
                || "driver".equals(env.executorId())) {
            return null;
        }
        return "executor " + env.executorId() + " at " + env.blockManager().blockManagerId().host();
    }

    /** Closes the inputs; closing twice is harmless. */
    @Override
    public void close() {
        closeAll(new Tensor[] {q, k, v});
    }

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

    /** Returns the nanoseconds spent reading rows so far. */
    long readNanos() {
        return readNanos;
    }

    /** Returns the rows read from the inputs so far (a row of k and one of v count as two). */
    long rowsRead() {
        return rowsRead;
    }

    /** Returns the nanoseconds spent in the kernel so far. */
    long kernelNanos() {
        return computeNanos;
    }

    /** Returns the allowed pairs of the last unit computed. */
    long lastAllowedPairs() {
        return lastAllowedPairs;
    }

    /** Reads the rows {@code unit} needs and computes it; the result is valid until the next call. */
    Partial compute(WorkUnit unit) {
        try {
            if (!WarmUp.onThisThread()) {
                FaultInjection.beforeUnit(unit, done == 0);
            }
            BlockGrid grid = layout.grid(unit.frame());
            // Rows are held in frame order: a reordered frame's blocks are then contiguous rows, as
            // the original order's are, instead of rows spread over the whole unit.
            int[] queryPositions = Planner.framePositions(grid, Planner.range(unit.fromBlock(), unit.toBlock()));
            int[] keyPositions = Planner.framePositions(grid, Planner.keyBlocks(layout, unit));
            long clock = System.nanoTime();
            int[] queryOrder = ascending(queryPositions);
            int[] keyOrder = ascending(keyPositions);
            SparseRows queries = rows(queryPositions, queryOrder, 0);
            queries = queries.withData(read(q, 0, unit.batch(), queryPositions, queryOrder, queries));
            SparseRows keys = rows(keyPositions, keyOrder, 1);
            keys = keys.withData(read(k, 1, unit.batch(), keyPositions, keyOrder, keys));
            SparseRows values = keys.withData(read(v, 2, unit.batch(), keyPositions, keyOrder, keys));
            long read = System.nanoTime();
            long before = kernel.allowedPairs();
            Partial partial = kernel.compute(queries, keys, values, unit.frame(), unit.fromBlock(), unit.toBlock(),
                    unit.fromKey(), unit.toKey());
            long computed = System.nanoTime();
            lastAllowedPairs = kernel.allowedPairs() - before;
            readNanos += read - clock;
            computeNanos += computed - read;
            done++;
            long[] frame = byFrame.computeIfAbsent(unit.frame(), f -> new long[4]);
            frame[0]++;
            frame[1] += unit.tiles();
            frame[2] += computed - read;
            frame[3] += read - clock;
            return partial;
        } catch (InvalidInputException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new SparseAttentionException(unit.describe() + " failed: " + e, e);
        }
    }

    /**
     * Returns the figures of the units computed so far, for a task's log line: count, warm-up,
     * reading and kernel times, then per frame.
     */
    String describe() {
        StringBuilder frames = new StringBuilder();
        byFrame.forEach((frame, f) -> frames.append(String.format(Locale.ROOT, "; frame %d: %s, %s, reading %.2f s,"
                + " kernel %.2f s", frame, Words.count(f[0], "unit"), Words.count(f[1], "tile"), f[3] / 1e9, f[2] / 1e9)));
        return String.format(Locale.ROOT, "%s in %.2f s: warm-up %.2f s, reading %.2f s, kernel %.2f s%s", Words.count(done, "unit"),
                (System.nanoTime() - created) / 1e9, warmUpNanos / 1e9, readNanos / 1e9, computeNanos / 1e9, frames);
    }

    /** Returns {@code positions} sorted, or {@code positions} itself when already ascending. */
    private static int[] ascending(int[] positions) {
        for (int i = 1; i < positions.length; i++) {
            if (positions[i] < positions[i - 1]) {
                int[] sorted = positions.clone();
                Arrays.sort(sorted);
                return sorted;
            }
        }
        return positions;
    }

    /**
     * Returns rows {@code positions} (in frame order; {@code ascending} sorted) without values yet,
     * found through slot table {@code slotTable}.
     */
    private SparseRows rows(int[] positions, int[] ascending, int slotTable) {
        int base = positions.length == 0 ? 0 : ascending[0];
        int span = positions.length == 0 ? 0 : ascending[ascending.length - 1] - base + 1;
        if (slots[slotTable].length < span) {
            slots[slotTable] = new int[span];
        }
        SparseRows.index(positions, slots[slotTable], base);
        return new SparseRows(positions, null, shape.features(), slots[slotTable], base);
    }

    /**
     * Reads rows {@code positions} into row buffer {@code buffer} at their places in {@code rows}:
     * run by run over {@code ascending} (the same positions sorted, or the same array when they
     * are), directly when the order is ascending and through a staging buffer otherwise (float32
     * rows go from a direct buffer to their places, whatever the order). When the positions are
     * one run that starts inside the run the buffer holds, the rows they share are moved, not
     * read. Checks their values and returns the buffer.
     */
    private float[] read(Tensor tensor, int buffer, int batch, int[] positions, int[] ascending, SparseRows rows)
            throws IOException {
        int rowLength = shape.features();
        boolean inOrder = positions == ascending;
        boolean oneRun = inOrder && Planner.isRun(positions);
        int kept = oneRun ? Planner.keptRows(heldBatch[buffer], heldFirst[buffer], heldCount[buffer], batch,
                positions[0], positions.length) : 0;
        int held = kept > 0 ? positions[0] - heldFirst[buffer] : 0;
        heldCount[buffer] = 0;
        // The planner refuses units whose rows no array holds (Planner.requireKeysFit).
        int values = Math.multiplyExact(positions.length, rowLength);
        if (buffers[buffer].length < values) {
            float[] grown = new float[values];
            System.arraycopy(buffers[buffer], held * rowLength, grown, 0, kept * rowLength);
            buffers[buffer] = grown;
        } else if (kept > 0 && held > 0) {
            System.arraycopy(buffers[buffer], held * rowLength, buffers[buffer], 0, kept * rowLength);
        }
        float[] data = buffers[buffer];
        boolean direct = tensor.header().dtype() == NpyDType.FLOAT32 && rowLength * Float.BYTES <= NpyFile.READ_CHUNK;
        boolean finite = true;
        int i = kept;
        try {
            while (i < ascending.length) {
                int j = i + 1;
                while (j < ascending.length && ascending[j] == ascending[j - 1] + 1) {
                    j++;
                }
                if (direct) {
                    // float32 rows straight from the file to their places, through a direct buffer.
                    int[] offsets = null;
                    if (!inOrder) {
                        if (runOffsets.length < j - i) {
                            runOffsets = new int[j - i];
                        }
                        for (int r = i; r < j; r++) {
                            runOffsets[r - i] = rows.offset(ascending[r]);
                        }
                        offsets = runOffsets;
                    }
                    finite &= NpyFile.readFloat32Rows(tensor.input(), tensor.header(), batch, ascending[i], j - i, data,
                            i * rowLength, offsets, 0, directScratch);
                } else if (inOrder) {
                    NpyFile.readRows(tensor.input(), tensor.header(), batch, ascending[i], j - i, data, i * rowLength,
                            scratch);
                } else {
                    if (staging.length < (j - i) * rowLength) {
                        staging = new float[(j - i) * rowLength];
                    }
                    NpyFile.readRows(tensor.input(), tensor.header(), batch, ascending[i], j - i, staging, 0, scratch);
                    for (int r = i; r < j; r++) {
                        System.arraycopy(staging, (r - i) * rowLength, data, rows.offset(ascending[r]), rowLength);
                    }
                }
                i = j;
            }
        } catch (InvalidInputException e) {
            // A float64 value float32 cannot hold: named with its option, as the other input errors are.
            throw e.naming(tensor.option());
        }
        // Rows read directly were checked as they came; the others here, and any bad value found.
        if (!settings.allowNonfinite() && !(direct && finite)) {
            int e = NpyFile.firstNonFinite(data, 0, positions.length * rowLength);
            if (e >= 0) {
                throw new InvalidInputException(tensor.option() + " " + tensor.uri() + ": non-finite value " + data[e]
                        + " at batch " + batch + ", row " + positions[e / rowLength] + ", feature " + e % rowLength
                        + " (pass --allow-nonfinite to compute with it)");
            }
        }
        rowsRead += positions.length - kept;
        if (oneRun) {
            heldFirst[buffer] = ascending[0];
            heldCount[buffer] = positions.length;
            heldBatch[buffer] = batch;
        }
        return data;
    }
}
