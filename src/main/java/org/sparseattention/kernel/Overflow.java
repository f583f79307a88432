package org.sparseattention.kernel;

import java.util.Locale;
import org.sparseattention.errors.InvalidInputException;

/**
 * A result that float32 could not hold although every input was finite: a score beyond its range
 * (the log-sum-exp then NaN or infinite), or an output that is not finite (which the kernels,
 * dividing by the softmax's sum first where a sum of values passes the range, do not give: the
 * check stands behind them). Every pattern gives each row its own key ({@code j = i}), so a
 * log-sum-exp of {@code -inf} is such a result too: all of a row's scores ran below the range.
 *
 * @param row the row, within the rows searched
 * @param head the head
 * @param feature the output feature that is not finite, or -1 when the log-sum-exp is not
 * @param value the value that is not finite
 */
public record Overflow(int row, int head, int feature, float value) {

    /**
     * Returns the first row and head of {@code rows} rows whose log-sum-exp ({@code [rows][heads]}
     * from 0) or output ({@code [rows][heads * headDim]} from {@code outputOffset}) is not finite, or
     * null.
     */
    public static Overflow find(float[] output, int outputOffset, float[] logSumExp, int rows, int heads,
            int headDim) {
        int rowLength = heads * headDim;
        if (TileMath.allFinite(logSumExp, 0, rows * heads)
                && TileMath.allFinite(output, outputOffset, rows * rowLength)) {
            return null;
        }
        for (int r = 0; r < rows; r++) {
            for (int h = 0; h < heads; h++) {
                float lse = logSumExp[r * heads + h];
                if (!Float.isFinite(lse)) {
                    return new Overflow(r, h, -1, lse);
                }
                int at = outputOffset + r * rowLength + h * headDim;
                for (int d = 0; d < headDim; d++) {
                    if (!Float.isFinite(output[at + d])) {
                        return new Overflow(r, h, d, output[at + d]);
                    }
                }
            }
        }
        return null;
    }

    /**
     * Throws the error of the first result of {@code out} (in batch order) that is not finite in a
     * batch item whose inputs are all finite; non-finite inputs give what they give.
     */
    static void check(AttentionOutput out, float[] q, float[] k, float[] v, float scale) {
        int rows = out.seqLen();
        int heads = out.heads();
        int rowLength = heads * out.headDim();
        float[] byRow = null;
        for (int b = 0; b < out.batch(); b++) {
            int base = b * rows * rowLength;
            int lseBase = b * heads * rows;
            if (TileMath.allFinite(out.logSumExp(), lseBase, heads * rows)
                    && TileMath.allFinite(out.output(), base, rows * rowLength)) {
                continue;
            }
            int length = rows * rowLength;
            if (!TileMath.allFinite(q, base, length) || !TileMath.allFinite(k, base, length)
                    || !TileMath.allFinite(v, base, length)) {
                continue;
            }
            byRow = byRow == null ? new float[rows * heads] : byRow;
            for (int h = 0; h < heads; h++) {
                for (int r = 0; r < rows; r++) {
                    byRow[r * heads + h] = out.logSumExp()[lseBase + h * rows + r];
                }
            }
            Overflow found = find(out.output(), base, byRow, rows, heads, out.headDim());
            if (found != null) {
                throw found.error(b, found.row(), "q, k", "v", "scale", scale);
            }
        }
    }

    /**
     * Returns the error for this overflow in row {@code row} (of the sequence) of batch item
     * {@code batch}, naming the scores' inputs {@code scores} (q and k) or the values {@code values}
     * (v), and the scale by {@code scaleName} and its value.
     */
    public InvalidInputException error(int batch, int row, String scores, String values, String scaleName,
            float scale) {
        if (feature < 0) {
            return new InvalidInputException(String.format(Locale.ROOT, "%s: the scores of batch %d, row %d, head %d"
                    + " overflow float32 (log-sum-exp %s): q . k times %s %s passes +-%s; scale q or k down, or"
                    + " use a smaller %s", scores, batch, row, head, value, scaleName, scale, Float.MAX_VALUE,
                    scaleName));
        }
        return new InvalidInputException(String.format(Locale.ROOT, "%s: the output of batch %d, row %d, head %d"
                + " overflows float32 (feature %d is %s) though every value is finite; scale v down", values, batch,
                row, head, feature, value));
    }
}
