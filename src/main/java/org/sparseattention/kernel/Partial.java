package org.sparseattention.kernel;

/**
 * The attention of some query rows over one share of their keys: for each row, all heads'
 * outputs (already normalised over that share) and log-sum-exps. A head or row with no allowed
 * key in the share has output 0 and log-sum-exp {@code -inf}. The arrays may be longer than
 * {@code rows} needs (reused buffers); only the first {@code rows} rows count.
 *
 * @param positions sequence position of each row
 * @param output {@code [rows, heads * headDim]}
 * @param logSumExp {@code [rows, heads]}
 */
public record Partial(int rows, int[] positions, int heads, int headDim, float[] output, float[] logSumExp) {

    public Partial {
        assert positions.length >= rows;
        assert output.length >= rows * heads * headDim;
        assert logSumExp.length >= rows * heads;
    }

    /** Returns a partial result whose arrays are exactly the size of {@code positions}. */
    public Partial(int[] positions, int heads, int headDim, float[] output, float[] logSumExp) {
        this(positions.length, positions, heads, headDim, output, logSumExp);
    }
}
