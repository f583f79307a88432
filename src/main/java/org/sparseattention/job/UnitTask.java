package org.sparseattention.job;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;
import org.sparseattention.io.Storage;
import org.sparseattention.kernel.Partial;
import org.sparseattention.plan.InputShape;
import org.sparseattention.plan.JobSettings;
import org.sparseattention.plan.Planner;
import org.sparseattention.plan.WorkUnit;
import scala.Tuple2;

/**
 * One task's shuffled units on an executor: for each unit, read exactly the rows it needs, run the
 * kernel, and cut the partial result into pieces by output shard. Lazy: one unit in memory at a time.
 */
final class UnitTask implements Iterator<Tuple2<PieceKey, Piece>>, AutoCloseable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(UnitTask.class);
    private final JobSettings settings;
    private final InputShape shape;
    private final Iterator<WorkUnit> units;
    private final UnitRunner runner;
    private final TaskTimes times;
    private final ArrayDeque<Tuple2<PieceKey, Piece>> ready = new ArrayDeque<>();
    private boolean finished;
    private long splitNanos;

    UnitTask(JobSettings settings, InputShape shape, List<WorkUnit> units, Storage storage, TaskTimes times)
            throws IOException {
        this.settings = settings;
        this.times = times;
        this.shape = shape;
        this.units = Planner.inTaskOrder(units).iterator();
        this.runner = new UnitRunner(settings, shape, storage);
    }

    @Override
    public boolean hasNext() {
        while (ready.isEmpty() && units.hasNext()) {
            WorkUnit unit = units.next();
            Partial partial = runner.compute(unit);
            long computed = System.nanoTime();
            split(unit, partial, runner.lastAllowedPairs());
            splitNanos += System.nanoTime() - computed;
        }
        if (ready.isEmpty()) {
            if (finished) {
                return false;
            }
            finished = true;
            runner.close();
            times.add(runner, 0, splitNanos);
            if (!WarmUp.onThisThread()) {
                LOG.info(String.format(Locale.ROOT, "task finished %s; cutting into pieces %.2f s", runner.describe(),
                        splitNanos / 1e9));
            }
            return false;
        }
        return true;
    }

    @Override
    public Tuple2<PieceKey, Piece> next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        return ready.removeFirst();
    }

    /** Closes the inputs (as running out of units does): for a caller that stops early, the warm-up. */
    @Override
    public void close() {
        runner.close();
    }

    /** Cuts a partial result into one piece per output shard, rows in ascending position. */
    private void split(WorkUnit unit, Partial partial, long allowedPairs) {
        int[] positions = partial.positions();
        int[] order = ascendingOrder(positions, partial.rows());
        int start = 0;
        boolean first = true;
        while (start < order.length) {
            int shard = Planner.shard(shape, settings, unit.batch(), positions[order[start]]);
            int end = start;
            while (end < order.length && Planner.shard(shape, settings, unit.batch(), positions[order[end]]) == shard) {
                end++;
            }
            ready.add(new Tuple2<>(PieceKey.of(shard, unit), Piece.of(partial, order, start, end - start,
                    first ? allowedPairs : 0)));
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
}
