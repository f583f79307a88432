package org.sparseattention.job;

import java.util.ArrayList;
import java.util.List;
import org.sparseattention.kernel.Accumulator;
import org.sparseattention.plan.InputShape;
import org.sparseattention.plan.JobSettings;

/** Merges the pieces of one output shard in (frame, chunk) order into its final rows. */
final class ShardMerge {
    private ShardMerge() {
    }

    static ShardResult merge(int shardId, Iterable<Piece> pieces, InputShape shape, JobSettings settings) {
        int perBatch = UnitTask.shardsPerBatch(shape, settings);
        int batch = shardId / perBatch;
        int rowStart = (int) ((long) (shardId % perBatch) * settings.shardRows());
        int rows = (int) Math.min(settings.shardRows(), (long) shape.seqLen() - rowStart);
        List<Piece> sorted = new ArrayList<>();
        pieces.forEach(sorted::add);
        sorted.sort(null);
        int heads = shape.heads();
        Accumulator accumulator = new Accumulator(rows, heads, shape.headDim());
        for (Piece piece : sorted) {
            accumulator.merge(piece.toPartial(rowStart, heads, shape.headDim()));
        }
        float[] byRow = accumulator.logSumExp();
        float[] byHead = new float[byRow.length];
        for (int r = 0; r < rows; r++) {
            for (int h = 0; h < heads; h++) {
                byHead[h * rows + r] = byRow[r * heads + h];
            }
        }
        return new ShardResult(batch, rowStart, rows, accumulator.output(), byHead);
    }
}
