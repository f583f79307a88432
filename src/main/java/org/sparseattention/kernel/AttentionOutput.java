package org.sparseattention.kernel;

import org.sparseattention.errors.InvalidInputException;

/**
 * Attention of a whole batch: {@code output [B, L, H * D]} and {@code logSumExp [B, H, L]},
 * row-major float32.
 */
public record AttentionOutput(int batch, int seqLen, int heads, int headDim, float[] output, float[] logSumExp) {

    /**
     * Checks the sizes and the arrays' lengths.
     *
     * @throws InvalidInputException for a size below 1, or arrays missing or of other lengths
     */
    public AttentionOutput {
        String[] names = {"batch", "seqLen", "heads", "headDim"};
        int[] sizes = {batch, seqLen, heads, headDim};
        for (int i = 0; i < sizes.length; i++) {
            if (sizes[i] < 1) {
                throw new InvalidInputException(names[i] + " must be >= 1, got " + sizes[i]);
            }
        }
        checkLength("output", output, "B x L x H x D = " + batch + " x " + seqLen + " x " + heads + " x " + headDim,
                (long) batch * seqLen * heads * headDim);
        checkLength("logSumExp", logSumExp, "B x H x L = " + batch + " x " + heads + " x " + seqLen,
                (long) batch * heads * seqLen);
    }

    /** Refuses an array {@code name} that is missing or not {@code expected} ({@code product}) floats long. */
    static void checkLength(String name, float[] array, String product, long expected) {
        if (array == null) {
            throw new InvalidInputException(name + " must not be null");
        }
        if (array.length != expected) {
            throw new InvalidInputException(name + ": expected " + product + " = " + expected + " floats, got "
                    + array.length);
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
