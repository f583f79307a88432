package org.sparseattention.kernel;

import org.sparseattention.layout.Pattern;

/**
 * Dense masked attention in float64, following README.md's rules literally: the reference every fast
 * path is tested against. Quadratic in the sequence length; for tests and checks only.
 */
public final class ReferenceAttention {
    private ReferenceAttention() {
    }

    /** The result: {@code output [B, L, E]} and {@code logSumExp [B, H, L]}, row-major. */
    public record Result(double[] output, double[] logSumExp) {
    }

    /** Computes attention of {@code [B, L, H * D]} inputs under {@code pattern}. */
    public static Result compute(float[] q, float[] k, float[] v, int batch, int seqLen, int heads,
            int headDim, Pattern pattern, double scale) {
        int rowLength = heads * headDim;
        double[] output = new double[batch * seqLen * rowLength];
        double[] logSumExp = new double[batch * heads * seqLen];
        double[] scores = new double[seqLen];
        for (int b = 0; b < batch; b++) {
            int base = b * seqLen * rowLength;
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < seqLen; i++) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < seqLen; j++) {
                        if (!pattern.allows(h, i, j)) {
                            scores[j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        double dot = 0;
                        for (int d = 0; d < headDim; d++) {
                            dot += (double) q[base + i * rowLength + h * headDim + d]
                                    * k[base + j * rowLength + h * headDim + d];
                        }
                        scores[j] = dot * scale;
                        max = Math.max(max, scores[j]);
                    }
                    int lseIndex = (b * heads + h) * seqLen + i;
                    if (max == Double.NEGATIVE_INFINITY) {
                        logSumExp[lseIndex] = Double.NEGATIVE_INFINITY;
                        continue;
                    }
                    double sum = 0;
                    for (int j = 0; j < seqLen; j++) {
                        sum += Math.exp(scores[j] - max);
                    }
                    double lse = max + Math.log(sum);
                    logSumExp[lseIndex] = lse;
                    int out = base + i * rowLength + h * headDim;
                    for (int j = 0; j < seqLen; j++) {
                        if (scores[j] == Double.NEGATIVE_INFINITY) {
                            continue;
                        }
                        double p = Math.exp(scores[j] - lse);
                        for (int d = 0; d < headDim; d++) {
                            output[out + d] += p * v[base + j * rowLength + h * headDim + d];
                        }
                    }
                }
            }
        }
        return new Result(output, logSumExp);
    }
}
