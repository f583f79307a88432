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
import org.sparseattention.kernel.Rows;
import org.sparseattention.layout.BlockGrid;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.plan.InputShape;
import org.sparseattention.plan.JobSettings;
import org.sparseattention.plan.Planner;
import org.sparseattention.plan.WorkUnit;

/**
 * Computes units inside one task: reads exactly the rows a unit needs from the open inputs and
 * runs the kernel on them. Row buffers, their position tables and the kernel's result arrays are reused from
 * unit to unit (large arrays are costly to collect), so a result is valid until the next unit.
 * Closed when the task completes, whatever its end; the warm-up's runners, which run inside a
 * task, by the warm-up itself.
 */
final class UnitRunner implements AutoCloseable {
    private final JobSettings settings;
    private final InputShape shape;
    private final BlockLayout layout;
    private final BlockSparseKernel kernel;
    private final Tensor q;
    private final Tensor k;
    private final Tensor v;
    /** Rows of q; rows of k and v, which are read for the same positions and held at the same places. */
    private final RowCache queryRows = new RowCache(1);
    private final RowCache keyRows = new RowCache(2);
    /** Rows of one run on their way to a buffer held in another order. */
    private float[] staging = new float[0];
    /** Bytes between the file and the row buffers. */
    private final byte[] scratch = new byte[NpyFile.READ_CHUNK];
    /** The same for float32 inputs, read into it directly. */
    private final ByteBuffer directScratch = ByteBuffer.allocateDirect(NpyFile.READ_CHUNK);
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
        // The warm-up's runners run inside the first task and close themselves: a listener on that
        // task would hold each one's rows and buffers until it ends.
        if (task != null && !WarmUp.onThisThread()) {
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
            Rows[] queries = read(queryRows, new Tensor[] {q}, unit.batch(), ascending(queryPositions));
            Rows[] keysAndValues = read(keyRows, new Tensor[] {k, v}, unit.batch(), ascending(keyPositions));
            Rows keys = keysAndValues[0];
            Rows values = keysAndValues[1];
            long read = System.nanoTime();
            long before = kernel.allowedPairs();
            Partial partial = kernel.compute(queries[0], keys, values, unit.frame(), unit.fromBlock(), unit.toBlock(),
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

    /** Returns {@code positions} sorted (a copy where they were not already ascending). */
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
     * Rows of one or two inputs held from unit to unit at places found by position: a unit's rows
     * that the unit before (of the same batch item) also read stay where they are, the others are
     * let go and their places reused. A local window reaches back into the previous unit's keys,
     * and {@code fixed}'s summary columns are keys of every unit after them: each is read once per
     * task, however many units share it ({@link Planner#rowsRead} counts the same).
     */
    private static final class RowCache {
        final float[][] data;
        /**
         * By position less {@link #base}, 1 + the row that holds it, or 0 (for batch item {@link
         * #batch}): made anew for each unit over the span of its positions, which every row held
         * then lies in.
         */
        int[] rowOf = new int[0];
        int base;
        /** By row, the position it holds, or -1 for a free row. */
        int[] positionOf = new int[0];
        /** By row, the unit that last needed it. */
        int[] neededBy = new int[0];
        /** Rows in use or free, from 0. */
        int rows;
        int batch = -1;
        int unit;
        /** Free rows of the current unit, ascending; new rows to read and their places. */
        int[] free = new int[0];
        int[] fresh = new int[0];
        int[] freshOffsets = new int[0];

        RowCache(int arrays) {
            data = new float[arrays][0];
        }
    }

    /**
     * Reads into {@code cache} the rows {@code ascending} (positions of batch item {@code batch},
     * ascending) of {@code tensors} that it does not hold yet, checking their values, and returns
     * the rows of each tensor; they are valid until the cache's next read.
     */
    private Rows[] read(RowCache cache, Tensor[] tensors, int batch, int[] ascending) throws IOException {
        int rowLength = shape.features();
        cache.unit++;
        if (cache.batch != batch) {
            forget(cache);
            cache.batch = batch;
        }
        // What this unit needs stays; the rest is let go.
        for (int p : ascending) {
            int r = held(cache, p);
            if (r >= 0) {
                cache.neededBy[r] = cache.unit;
            }
        }
        if (cache.free.length < cache.rows) {
            cache.free = new int[cache.rows];
        }
        int frees = 0;
        int kept = 0;
        for (int r = 0; r < cache.rows; r++) {
            if (cache.positionOf[r] >= 0 && cache.neededBy[r] != cache.unit) {
                cache.positionOf[r] = -1;
            }
            if (cache.positionOf[r] < 0) {
                cache.free[frees++] = r;
            } else {
                kept++;
            }
        }
        // The position table over this unit's span, which holds every row kept.
        int span = ascending.length == 0 ? 0 : ascending[ascending.length - 1] - ascending[0] + 1;
        if (cache.rowOf.length < span) {
            cache.rowOf = new int[span];
        } else {
            Arrays.fill(cache.rowOf, 0, span, 0);
        }
        cache.base = ascending.length == 0 ? 0 : ascending[0];
        for (int r = 0; r < cache.rows; r++) {
            if (cache.positionOf[r] >= 0) {
                cache.rowOf[cache.positionOf[r] - cache.base] = r + 1;
            }
        }
        // New rows go to free places, lowest first, then past the rows in use: room for them all made at once.
        int added = Math.max(0, ascending.length - kept - frees);
        if (added > 0) {
            grow(cache, cache.rows + added, rowLength);
        }
        if (cache.fresh.length < ascending.length) {
            cache.fresh = new int[ascending.length];
            cache.freshOffsets = new int[ascending.length];
        }
        int fresh = 0;
        int nextFree = 0;
        for (int p : ascending) {
            if (cache.rowOf[p - cache.base] != 0) {
                continue;
            }
            int r = nextFree < frees ? cache.free[nextFree++] : cache.rows++;
            cache.rowOf[p - cache.base] = r + 1;
            cache.positionOf[r] = p;
            cache.neededBy[r] = cache.unit;
            cache.fresh[fresh] = p;
            cache.freshOffsets[fresh] = r * rowLength;
            fresh++;
        }
        Rows[] rows = new Rows[tensors.length];
        try {
            for (int t = 0; t < tensors.length; t++) {
                readRows(tensors[t], cache.data[t], batch, cache.fresh, cache.freshOffsets, fresh);
                rowsRead += fresh;
                rows[t] = new HeldRows(cache.data[t], cache.rowOf, cache.base, span, rowLength);
            }
        } catch (IOException | RuntimeException e) {
            // Rows half read, or refused: none is held.
            forget(cache);
            throw e;
        }
        return rows;
    }

    /** Lets go of every row {@code cache} holds. */
    private static void forget(RowCache cache) {
        Arrays.fill(cache.positionOf, 0, cache.rows, -1);
    }

    /** Returns the row of {@code cache} that holds {@code position} (by the last unit's table), or -1. */
    private static int held(RowCache cache, int position) {
        int at = position - cache.base;
        int row = at >= 0 && at < cache.rowOf.length ? cache.rowOf[at] - 1 : -1;
        return row >= 0 && cache.positionOf[row] == position ? row : -1;
    }

    /**
     * Makes room in {@code cache} for {@code rows} rows: exactly that the first time, then a quarter
     * more, up to what an array holds, so that a task whose units grow does not copy its rows for
     * each (the planner refuses units whose rows no array holds: Planner.requireKeysFit).
     */
    private static void grow(RowCache cache, int rows, int rowLength) {
        if (cache.positionOf.length >= rows) {
            return;
        }
        int most = (Integer.MAX_VALUE - 8) / rowLength;
        int room = cache.positionOf.length == 0 ? rows
                : (int) Math.max(rows, Math.min(most, cache.positionOf.length + (cache.positionOf.length >> 2)));
        int old = cache.positionOf.length;
        for (int t = 0; t < cache.data.length; t++) {
            cache.data[t] = Arrays.copyOf(cache.data[t], Math.multiplyExact(room, rowLength));
        }
        cache.neededBy = Arrays.copyOf(cache.neededBy, room);
        cache.positionOf = Arrays.copyOf(cache.positionOf, room);
        Arrays.fill(cache.positionOf, old, room, -1);
    }

    /**
     * Reads rows {@code positions[0, count)} (ascending) of batch item {@code batch} of {@code
     * tensor} into {@code data} at {@code offsets}, run by run: float32 rows straight from the file
     * through a direct buffer, others through a staging buffer. Checks their values.
     */
    private void readRows(Tensor tensor, float[] data, int batch, int[] positions, int[] offsets, int count)
            throws IOException {
        int rowLength = shape.features();
        boolean direct = tensor.header().dtype() == NpyDType.FLOAT32 && rowLength * Float.BYTES <= NpyFile.READ_CHUNK;
        boolean finite = true;
        try {
            for (int i = 0; i < count; ) {
                int j = i + 1;
                while (j < count && positions[j] == positions[j - 1] + 1) {
                    j++;
                }
                // Rows at consecutive places are read as one piece; others placed one by one.
                boolean together = offsets[j - 1] - offsets[i] == (j - 1 - i) * rowLength;
                if (direct) {
                    finite &= NpyFile.readFloat32Rows(tensor.input(), tensor.header(), batch, positions[i], j - i, data,
                            offsets[i], together ? null : offsets, i, directScratch);
                } else if (together) {
                    NpyFile.readRows(tensor.input(), tensor.header(), batch, positions[i], j - i, data, offsets[i],
                            scratch);
                } else {
                    if (staging.length < (j - i) * rowLength) {
                        staging = new float[(j - i) * rowLength];
                    }
                    NpyFile.readRows(tensor.input(), tensor.header(), batch, positions[i], j - i, staging, 0, scratch);
                    for (int r = i; r < j; r++) {
                        System.arraycopy(staging, (r - i) * rowLength, data, offsets[r], rowLength);
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
            for (int r = 0; r < count; r++) {
                int e = NpyFile.firstNonFinite(data, offsets[r], offsets[r] + rowLength);
                if (e >= 0) {
                    throw new InvalidInputException(tensor.option() + " " + tensor.uri() + ": non-finite value " + data[e]
                            + " at batch " + batch + ", row " + positions[r] + ", feature " + (e - offsets[r])
                            + " (pass --allow-nonfinite to compute with it)");
                }
            }
        }
    }

    /** Rows held in a {@link RowCache}: a position's row wherever the cache put it. */
    private record HeldRows(float[] data, int[] rowOf, int base, int span, int rowLength) implements Rows {
        @Override
        public int offset(int position) {
            int at = position - base;
            int row = at >= 0 && at < span ? rowOf[at] - 1 : -1;
            if (row < 0) {
                throw new IllegalStateException("row " + position + " was not read for this unit");
            }
            return row * rowLength;
        }
    }
}
