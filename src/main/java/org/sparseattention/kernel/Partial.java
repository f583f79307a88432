package org.sparseattention.kernel;

/**
 * The attention of some query rows over one share of their keys: for each row, all heads'
 * outputs (already normalised over that share) and log-sum-exps. A head or row with no allowed
 * key in the share has output 0 and log-sum-exp {@code -inf}.
 *
 * @param positions sequence position of each row
 * @param output {@code [rows, heads * headDim]}
 * @param logSumExp {@code [rows, heads]}
 */
public record Partial(int[] positions, int heads, int headDim, float[] output, float[] logSumExp) {

    public Partial {
        assert output.length == positions.length * heads * headDim;
        assert logSumExp.length == positions.length * heads;
    }

    public int rows() {
        return positions.length;
    }
}
