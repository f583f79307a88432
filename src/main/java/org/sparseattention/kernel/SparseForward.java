package org.sparseattention.kernel;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.TileList;

/**
 * Block-sparse attention of a whole batch in this process, cut and merged exactly as the
 * distributed job cuts and merges it: per frame and query block, key tiles in chunks of at most
 * {@code maxKeyBlocks}, partials merged in (frame, chunk) order. The same settings give the same
 * bits here and in the job.
 */
public final class SparseForward {
    /** Key blocks per chunk when not set: rows with more keys are computed in pieces and merged. */
    public static final int DEFAULT_MAX_KEY_BLOCKS = 64;

    /**
     * Query blocks a thread takes at a time. Rows whose keys all fit in one chunk are computed in
     * one kernel call per range, which lets the kernel pack the key and value rows the range shares
     * once; rows split into chunks in one call per chunk over the whole range, so that one head's
     * key and value rows of a chunk serve every block of the range while they are in the cache
     * (`fixed` ran 1.4 x and `all` 1.15 x faster than block by block).
     */
    public static final int RANGE = 8;

    private SparseForward() {
    }

    /**
     * Refuses a score scale the kernel cannot use: it scores in float32, where a scale that is not
     * finite, or that float32 holds only as an infinity or as zero, would give NaN scores or scores
     * other than those asked for. Zero and negative scales are any other scale (zero: every
     * allowed key weighs the same).
     */
    public static void checkScale(String name, double scale) {
        float narrowed = (float) scale;
        if (!Double.isFinite(scale)) {
            throw new InvalidInputException(name + " must be a finite number, got " + scale);
        }
        if (!Float.isFinite(narrowed) || (narrowed == 0 && scale != 0)) {
            throw new InvalidInputException(name + " must be 0 or a float32 number of magnitude between "
                    + Float.MIN_VALUE + " and " + Float.MAX_VALUE + ": got " + scale + ", " + narrowed + " as float32");
        }
    }

    private static void requireArgument(String name, Object argument) {
        if (argument == null) {
            throw new InvalidInputException(name + " must not be null");
        }
    }

    /** Refuses what the float-array entry points take besides the arrays and their sizes. */
    private static void checkSettings(BlockLayout layout, float scale, int maxKeyBlocks, int threads) {
        requireArgument("layout", layout);
        if (threads < 1) {
            throw new InvalidInputException("threads must be >= 1, got " + threads);
        }
        if (maxKeyBlocks < 1) {
            throw new InvalidInputException("maxKeyBlocks must be >= 1, got " + maxKeyBlocks);
        }
        checkScale("scale", scale);
        BlockSparseKernel.requirePassesFit(layout, maxKeyBlocks);
    }

    /** Refuses q, k or v missing or not {@code B x L x H x D} floats long ({@code whose}: where B and D come from). */
    private static void checkInputs(float[] q, float[] k, float[] v, int batch, int seqLen, int heads, int headDim,
            String whose) {
        String product = "B x L x H x D" + whose + " = " + batch + " x " + seqLen + " x " + heads + " x " + headDim;
        long expected = (long) batch * seqLen * heads * headDim;
        AttentionOutput.checkLength("q", q, product, expected);
        AttentionOutput.checkLength("k", k, product, expected);
        AttentionOutput.checkLength("v", v, product, expected);
    }

    /** Returns the number of key chunks of {@code queryBlock} in {@code frame}. */
    public static int chunkCount(BlockLayout layout, int frame, int queryBlock, int maxKeyBlocks, TileList scratch) {
        return chunkCount(layout.maxTiles(frame, queryBlock, scratch), maxKeyBlocks);
    }

    /** Returns the chunks of a query block whose longest tile list over the heads holds {@code tiles}. */
    public static int chunkCount(int tiles, int maxKeyBlocks) {
        return tiles == 0 ? 0 : (tiles - 1) / maxKeyBlocks + 1;
    }

    /**
     * Computes attention of {@code [B, L, H * D]} float32 inputs ({@code B = batch}, {@code L} and
     * {@code H} the layout's, {@code D = headDim}, row-major) under {@code layout} on one thread.
     *
     * @throws InvalidInputException for a missing argument, a size below 1, arrays of another length
     *     than {@code B x L x H x D}, a scale float32 cannot use, or scores that overflow float32
     */
    public static AttentionOutput forward(float[] q, float[] k, float[] v, int batch, BlockLayout layout,
            int headDim, float scale, int maxKeyBlocks) {
        return forward(q, k, v, batch, layout, headDim, scale, maxKeyBlocks, 1);
    }

    /**
     * Computes attention on {@code threads} threads, which take the query blocks of each frame
     * {@link #RANGE} at a time. Rows of different query blocks are disjoint and each row's partials are
     * still merged in (frame, chunk) order, so the result has the same bits for any count.
     *
     * @throws InvalidInputException as {@link #forward(float[], float[], float[], int, BlockLayout, int,
     *     float, int)}, and for fewer than 1 thread
     */
    public static AttentionOutput forward(float[] q, float[] k, float[] v, int batch, BlockLayout layout,
            int headDim, float scale, int maxKeyBlocks, int threads) {
        checkSettings(layout, scale, maxKeyBlocks, threads);
        if (batch < 1) {
            throw new InvalidInputException("batch must be >= 1, got " + batch);
        }
        if (headDim < 1) {
            throw new InvalidInputException("headDim must be >= 1, got " + headDim);
        }
        int seqLen = layout.seqLen();
        int heads = layout.heads();
        long floats = (long) batch * seqLen * heads * headDim;
        if (floats > Integer.MAX_VALUE - 8) {
            throw new InvalidInputException("B x L x H x D = " + batch + " x " + seqLen + " x " + heads + " x " + headDim
                    + " = " + floats + " floats, more than one Java array holds");
        }
        // Everything before the output is allocated: a length error says which array and what it should be.
        checkInputs(q, k, v, batch, seqLen, heads, headDim, "");
        AttentionOutput result = new AttentionOutput(batch, seqLen, heads, headDim, new float[(int) floats],
                new float[batch * heads * seqLen]);
        compute(q, k, v, layout, scale, maxKeyBlocks, threads, result);
        return result;
    }

    /**
     * Computes attention like {@link #forward(float[], float[], float[], int, BlockLayout, int, float,
     * int, int)} into {@code into}, whose every value it writes (batch size and head dimension are
     * {@code into}'s): a caller computing repeatedly allocates the output once, as the job's tasks
     * reuse theirs.
     *
     * @throws InvalidInputException as that method, and for {@code into} of other rows or heads than the layout's
     */
    public static void forward(float[] q, float[] k, float[] v, BlockLayout layout, float scale, int maxKeyBlocks,
            int threads, AttentionOutput into) {
        checkSettings(layout, scale, maxKeyBlocks, threads);
        requireArgument("into", into);
        int seqLen = layout.seqLen();
        int heads = layout.heads();
        if (into.seqLen() != seqLen || into.heads() != heads) {
            throw new InvalidInputException("into: an output of " + into.seqLen() + " rows and " + into.heads()
                    + " heads for a layout of " + seqLen + " rows and " + heads + " heads");
        }
        checkInputs(q, k, v, into.batch(), seqLen, heads, into.headDim(), " (B and D of into)");
        compute(q, k, v, layout, scale, maxKeyBlocks, threads, into);
    }

    /** The computation of both entry points, once they have checked every argument. */
    private static void compute(float[] q, float[] k, float[] v, BlockLayout layout, float scale, int maxKeyBlocks,
            int threads, AttentionOutput into) {
        int seqLen = layout.seqLen();
        int heads = layout.heads();
        int batch = into.batch();
        int headDim = into.headDim();
        int rowLength = heads * headDim;
        float[] output = into.output();
        float[] logSumExp = into.logSumExp();
        BlockSparseKernel[] kernels = new BlockSparseKernel[threads];
        for (int t = 0; t < threads; t++) {
            kernels[t] = new BlockSparseKernel(layout, headDim, scale);
        }
        ExecutorService pool = threads > 1 ? Executors.newFixedThreadPool(threads) : null;
        float[][] byHead = headMajorWorthIt(layout, seqLen, rowLength)
                ? new float[][] {new float[seqLen * rowLength], new float[seqLen * rowLength]} : null;
        try {
            for (int b = 0; b < batch; b++) {
                int base = b * seqLen * rowLength;
                Rows qRows = Rows.dense(q, base, rowLength);
                Rows kRows = byHead == null ? Rows.dense(k, base, rowLength)
                        : toHeadMajor(k, base, layout, headDim, byHead[0], pool, threads);
                Rows vRows = byHead == null ? Rows.dense(v, base, rowLength)
                        : toHeadMajor(v, base, layout, headDim, byHead[1], pool, threads);
                Accumulator accumulator = new Accumulator(output, base, seqLen, heads, headDim);
                for (int f = 0; f < layout.frameCount(); f++) {
                    int frame = f;
                    int blocks = layout.grid(f).numBlocks();
                    int ranges = (blocks + RANGE - 1) / RANGE;
                    List<Callable<Void>> work = new ArrayList<>();
                    AtomicInteger next = new AtomicInteger();
                    for (int t = 0; t < threads; t++) {
                        BlockSparseKernel kernel = kernels[t];
                        work.add(() -> {
                            TileList scratch = new TileList();
                            // Last ranges first: in causal patterns they have the most keys, and
                            // the short ones taken last even out the threads' ends.
                            for (int i = next.getAndIncrement(); i < ranges; i = next.getAndIncrement()) {
                                int from = (ranges - 1 - i) * RANGE;
                                computeRange(kernel, accumulator, qRows, kRows, vRows, layout, frame, from,
                                        Math.min(blocks, from + RANGE), maxKeyBlocks, scratch);
                            }
                            return null;
                        });
                    }
                    run(pool, work);
                }
                accumulator.zeroEmpty();
                AttentionOutput.transposeInto(accumulator.logSumExp(), seqLen, heads, logSumExp, b * heads * seqLen);
            }
        } finally {
            if (pool != null) {
                pool.shutdownNow();
            }
        }
        boolean nonFinite = !TileMath.allFinite(logSumExp, 0, logSumExp.length);
        for (BlockSparseKernel kernel : kernels) {
            nonFinite |= kernel.sawNonFinite();
        }
        if (nonFinite) {
            Overflow.check(into, q, k, v, scale);
        }
    }

    /**
     * Returns whether the keys and values are worth copying head by head ({@link Rows#headMajor}):
     * when rows are long (more tiles on average than the kernel computes whole), each key row is
     * read by many query blocks, and adjacent rows per head spare the kernel packing them again for
     * every range (`fixed`: 14 % of its time). Not when the two copies would take more than half
     * the heap still free (garbage counted as used): they only save time.
     */
    static boolean headMajorWorthIt(BlockLayout layout, int seqLen, int rowLength) {
        long blocks = 0;
        for (int f = 0; f < layout.frameCount(); f++) {
            blocks += layout.grid(f).numBlocks();
        }
        double tilesPerRow = layout.tileCount() / (double) Math.max(1, blocks * layout.heads());
        long bytes = 2L * seqLen * rowLength * Float.BYTES;
        Runtime runtime = Runtime.getRuntime();
        long free = runtime.maxMemory() - (runtime.totalMemory() - runtime.freeMemory());
        return tilesPerRow > BlockSparseKernel.SPLIT_ABOVE_TILES && bytes <= free / 2;
    }

    /**
     * Copies a batch item's rows {@code [L, H * D]} from {@code base} into {@code target} as
     * {@code [H, L, D]}, on all threads.
     */
    private static Rows toHeadMajor(float[] source, int base, BlockLayout layout, int headDim, float[] target,
            ExecutorService pool, int threads) {
        int seqLen = layout.seqLen();
        int heads = layout.heads();
        List<Callable<Void>> work = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int from = (int) ((long) seqLen * t / threads);
            int to = (int) ((long) seqLen * (t + 1) / threads);
            work.add(() -> {
                for (int position = from; position < to; position++) {
                    int row = base + position * heads * headDim;
                    for (int h = 0; h < heads; h++) {
                        System.arraycopy(source, row + h * headDim, target, (h * seqLen + position) * headDim, headDim);
                    }
                }
                return null;
            });
        }
        run(pool, work);
        return Rows.headMajor(target, seqLen, headDim);
    }

    /**
     * Computes query blocks {@code [from, to)} of {@code frame} into {@code accumulator}: in one
     * kernel call when every block's keys fit in one chunk, else one call per chunk index (a block
     * with fewer chunks gets an empty partial, which merging leaves out). Each row's partials are
     * still merged in chunk order.
     */
    private static void computeRange(BlockSparseKernel kernel, Accumulator accumulator, Rows q, Rows k, Rows v,
            BlockLayout layout, int frame, int from, int to, int maxKeyBlocks, TileList scratch) {
        int[] chunks = new int[to - from];
        boolean whole = true;
        for (int qb = from; qb < to; qb++) {
            chunks[qb - from] = chunkCount(layout, frame, qb, maxKeyBlocks, scratch);
            whole &= chunks[qb - from] <= 1;
        }
        if (whole) {
            accumulator.merge(kernel.compute(q, k, v, frame, from, to, 0, Integer.MAX_VALUE));
            return;
        }
        int most = 0;
        for (int count : chunks) {
            most = Math.max(most, count);
        }
        for (int c = 0; c < most; c++) {
            int fromKey = (int) Math.min(Integer.MAX_VALUE, (long) c * maxKeyBlocks);
            int toKey = (int) Math.min(Integer.MAX_VALUE, (long) (c + 1) * maxKeyBlocks);
            accumulator.merge(kernel.compute(q, k, v, frame, from, to, fromKey, toKey));
        }
    }

    private static void run(ExecutorService pool, List<Callable<Void>> work) {
        try {
            if (pool == null) {
                work.get(0).call();
                return;
            }
            for (Future<Void> done : pool.invokeAll(work)) {
                done.get();
            }
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (Exception e) {
            throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
        }
    }
}
