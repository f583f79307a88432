package org.sparseattention.kernel;

/**
 * Attention of a whole batch: {@code output [B, L, H * D]} and {@code logSumExp [B, H, L]},
 * row-major float32.
 */
public record AttentionOutput(int batch, int seqLen, int heads, int headDim, float[] output, float[] logSumExp) {

    public AttentionOutput {
        if (output.length != (long) batch * seqLen * heads * headDim || logSumExp.length != (long) batch * heads * seqLen) {
            throw new IllegalArgumentException("output sizes do not match [" + batch + ", " + seqLen + ", "
                    + heads + " * " + headDim + "]");
        }
    }

    /** Copies one batch item's {@code [L, H]} log-sum-exp into {@code target} in {@code [H, L]} order. */
    static void transposeInto(float[] rowsByHead, int seqLen, int heads, float[] target, int targetOffset) {
        for (int t = 0; t < seqLen; t++) {
            for (int h = 0; h < heads; h++) {
                target[targetOffset + h * seqLen + t] = rowsByHead[t * heads + h];
            }
        }
    }
}
