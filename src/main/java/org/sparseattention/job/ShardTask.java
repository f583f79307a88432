package org.sparseattention.job;

import java.io.IOException;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.function.LongConsumer;
import org.sparseattention.io.Storage;
import org.sparseattention.kernel.Accumulator;
import org.sparseattention.kernel.Overflow;
import org.sparseattention.kernel.Partial;
import org.sparseattention.plan.InputShape;
import org.sparseattention.plan.JobSettings;
import org.sparseattention.plan.Planner;
import org.sparseattention.plan.WorkUnit;
import scala.Tuple2;

/**
 * The task of one output shard: computes the units planned in place for it and merges their
 * results with the shuffled pieces of its rows, all in (frame, chunk, unit) order (README.md,
 * "What is computed"), into the shard's final rows, holding one piece at a time.
 */
final class ShardTask {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ShardTask.class);

    private ShardTask() {
    }

    /**
     * Returns the final rows of shard {@code shard} (numbered across batch items), adding the
     * allowed pairs of everything merged to {@code pairs} and its phases' times to {@code times}.
     * {@code pieces} come with their keys in merge order (the shuffle sorts them by {@link
     * PieceKey}), and are merged one at a time between the units computed here.
     */
    static ShardResult run(int shard, List<WorkUnit> inPlace, Iterator<Tuple2<PieceKey, Piece>> pieces,
            JobSettings settings,
            InputShape shape, Storage storage, LongConsumer pairs, TaskTimes times) throws IOException {
        long started = System.nanoTime();
        OutputFiles.Shard range = OutputFiles.shard(shape, settings, shard);
        int rowStart = range.rowStart();
        int rows = range.rowEnd() - range.rowStart();
        int heads = shape.heads();
        // A shard's units are of one batch item: in merge order (frame, chunk, unit).
        List<WorkUnit> units = Planner.inTaskOrder(inPlace);
        Accumulator accumulator = new Accumulator(rows, heads, shape.headDim());
        long allowed = 0;
        long mergeNanos = 0;
        int shuffled = 0;
        int[] local = new int[0];
        try (UnitRunner runner = inPlace.isEmpty() ? null : new UnitRunner(settings, shape, storage)) {
            int u = 0;
            PieceKey last = null;
            Tuple2<PieceKey, Piece> next = pieces.hasNext() ? pieces.next() : null;
            while (next != null || u < units.size()) {
                PieceKey key = next == null ? null : next._1();
                if (key != null && (u == units.size() || key.compareTo(PieceKey.of(shard, units.get(u))) < 0)) {
                    if (key.shard() != shard) {
                        throw new IllegalStateException("shard " + shard + " got a piece of shard " + key.shard());
                    }
                    if (last != null && key.compareTo(last) <= 0) {
                        throw new IllegalStateException("shard " + shard + ": piece " + key + " after " + last
                                + ", out of merge order");
                    }
                    last = key;
                    Piece piece = next._2();
                    long clock = System.nanoTime();
                    accumulator.merge(piece.toPartial(rowStart, heads, shape.headDim()));
                    mergeNanos += System.nanoTime() - clock;
                    allowed += piece.allowedPairs();
                    shuffled++;
                    next = pieces.hasNext() ? pieces.next() : null;
                    continue;
                }
                WorkUnit unit = units.get(u++);
                Partial partial = runner.compute(unit);
                allowed += runner.lastAllowedPairs();
                long clock = System.nanoTime();
                local = shifted(partial.positions(), partial.rows(), rowStart, local);
                accumulator.merge(new Partial(partial.rows(), local, heads, shape.headDim(), partial.output(),
                        partial.logSumExp()));
                mergeNanos += System.nanoTime() - clock;
            }
            if (!settings.allowNonfinite()) {
                Overflow overflow = Overflow.find(accumulator.output(), 0, accumulator.logSumExp(), rows, heads,
                        shape.headDim());
                if (overflow != null) {
                    throw overflow.error(range.batch(), rowStart + overflow.row(), "--q " + settings.q() + ", --k "
                            + settings.k(), "--v " + settings.v(), "--scale", settings.scaleFor(shape.headDim()));
                }
            }
            pairs.accept(allowed);
            times.add(runner, mergeNanos, 0);
            float[] byHead = settings.lse() ? byHead(accumulator.logSumExp(), rows, heads) : new float[0];
            if (!WarmUp.onThisThread()) {
                LOG.info(String.format(Locale.ROOT, "shard %d finished in %.2f s: %d shuffled pieces, merging %.2f s%s", shard,
                        (System.nanoTime() - started) / 1e9, shuffled, mergeNanos / 1e9,
                        runner == null ? "" : "; in place " + runner.describe()));
            }
            return new ShardResult(range.batch(), rowStart, rows, accumulator.output(), byHead);
        }
    }

    /** Returns the log-sum-exp held by row ({@code [rows][heads]}) by head ({@code [heads][rows]}). */
    private static float[] byHead(float[] byRow, int rows, int heads) {
        float[] byHead = new float[rows * heads];
        for (int r = 0; r < rows; r++) {
            for (int h = 0; h < heads; h++) {
                byHead[h * rows + r] = byRow[r * heads + h];
            }
        }
        return byHead;
    }

    /**
     * Returns {@code positions[r] - start} for {@code r < rows}, in {@code reuse} when it is long
     * enough. A method of its own, as is {@link #byHead}: their loops' iterations, counted in
     * {@link #run}, made C2 compile all of {@code run} with the kernel inlined into it (half a
     * second of a core mid-job) for a loop that runs fifty times per shard.
     */
    private static int[] shifted(int[] positions, int rows, int start, int[] reuse) {
        int[] shifted = reuse.length < rows ? new int[rows] : reuse;
        for (int r = 0; r < rows; r++) {
            shifted[r] = positions[r] - start;
        }
        return shifted;
    }
}
