package org.sparseattention.kernel;

import java.nio.FloatBuffer;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.layout.Pattern;

/**
 * Dense masked attention in float32 on ND4J: the whole {@code [L, L]} score matrix per head,
 * the token rule as a mask. Quadratic memory; the in-process {@code attentionImpl}.
 */
public final class DenseAttention {
    private DenseAttention() {
    }

    /** Computes attention of {@code [B, L, H * D]} float32 inputs under {@code pattern}. */
    public static AttentionOutput compute(float[] q, float[] k, float[] v, int batch, int seqLen, int heads,
            int headDim, Pattern pattern, float scale) {
        SparseForward.checkScale("scale", scale);
        if ((long) seqLen * seqLen > Integer.MAX_VALUE - 8) {
            throw new InvalidInputException("dense attention: L = " + seqLen + " needs an L x L score matrix of "
                    + (long) seqLen * seqLen + " values, more than one array holds (" + (Integer.MAX_VALUE - 8)
                    + "): use block-sparse attention or the Spark job");
        }
        int rowLength = heads * headDim;
        float[] output = new float[batch * seqLen * rowLength];
        float[] logSumExp = new float[batch * heads * seqLen];
        INDArray qh = Nd4j.create(DataType.FLOAT, seqLen, headDim);
        INDArray kh = Nd4j.create(DataType.FLOAT, seqLen, headDim);
        INDArray vh = Nd4j.create(DataType.FLOAT, seqLen, headDim);
        INDArray scores = Nd4j.create(DataType.FLOAT, seqLen, seqLen);
        INDArray result = Nd4j.create(DataType.FLOAT, seqLen, headDim);
        float[] s = new float[seqLen * seqLen];
        float[] o = new float[seqLen * headDim];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                int base = b * seqLen * rowLength + h * headDim;
                copyHead(q, base, rowLength, seqLen, headDim, view(qh));
                // Scaled before the product, as the block-sparse kernel scales: q . k itself may pass
                // float32's range where the scaled score does not.
                qh.muli(scale);
                copyHead(k, base, rowLength, seqLen, headDim, view(kh));
                copyHead(v, base, rowLength, seqLen, headDim, view(vh));
                Nd4j.gemm(qh, kh, scores, false, true, 1.0, 0.0);
                FloatBuffer scoreView = view(scores);
                scoreView.get(0, s, 0, s.length);
                for (int i = 0; i < seqLen; i++) {
                    for (int j = 0; j < seqLen; j++) {
                        if (!pattern.allows(h, i, j)) {
                            s[i * seqLen + j] = Float.NEGATIVE_INFINITY;
                        }
                    }
                    float max = Softmax.max(s, i * seqLen, seqLen);
                    int lseIndex = (b * heads + h) * seqLen + i;
                    if (max == Float.NEGATIVE_INFINITY) {
                        java.util.Arrays.fill(s, i * seqLen, (i + 1) * seqLen, 0f);
                        logSumExp[lseIndex] = Float.NEGATIVE_INFINITY;
                        continue;
                    }
                    double sum = Softmax.expShifted(s, i * seqLen, seqLen, max);
                    // Divided before the product: a sum of finite values by weights up to 1 may pass
                    // float32's range where their weighted mean, the output, does not.
                    float inverse = (float) (1.0 / sum);
                    for (int j = 0; j < seqLen; j++) {
                        s[i * seqLen + j] *= inverse;
                    }
                    logSumExp[lseIndex] = (float) (max + Math.log(sum));
                }
                scoreView.put(0, s, 0, s.length);
                Nd4j.gemm(scores, vh, result, false, false, 1.0, 0.0);
                view(result).get(0, o, 0, o.length);
                skipZeroWeightsInNonFiniteRows(s, view(vh), seqLen, headDim, o);
                for (int i = 0; i < seqLen; i++) {
                    for (int d = 0; d < headDim; d++) {
                        output[base + i * rowLength + d] = o[i * headDim + d];
                    }
                }
            }
        }
        AttentionOutput attention = new AttentionOutput(batch, seqLen, heads, headDim, output, logSumExp);
        Overflow.check(attention, q, k, v, scale);
        return attention;
    }

    /**
     * Recomputes the output rows {@code o[i * D ..]} that came out NaN or infinite key by key,
     * leaving out keys of weight 0 ({@code weights[i * L + j]}): the product adds {@code 0 * inf}
     * or {@code 0 * NaN} for keys a row may not attend, which would spread a non-finite value to
     * rows that never see it (the block-sparse kernel does the same, {@link TileMath#outputSkippingZeroWeights}).
     */
    static void skipZeroWeightsInNonFiniteRows(float[] weights, FloatBuffer values, int seqLen, int headDim,
            float[] o) {
        for (int i = 0; i < seqLen; i++) {
            boolean finite = true;
            for (int d = 0; d < headDim && finite; d++) {
                finite = Float.isFinite(o[i * headDim + d]);
            }
            if (finite) {
                continue;
            }
            java.util.Arrays.fill(o, i * headDim, (i + 1) * headDim, 0f);
            for (int j = 0; j < seqLen; j++) {
                float weight = weights[i * seqLen + j];
                if (weight != 0f) {
                    for (int d = 0; d < headDim; d++) {
                        o[i * headDim + d] += weight * values.get(j * headDim + d);
                    }
                }
            }
        }
    }

    private static void copyHead(float[] source, int base, int rowLength, int seqLen, int headDim, FloatBuffer target) {
        for (int t = 0; t < seqLen; t++) {
            target.put(t * headDim, source, base + t * rowLength, headDim);
        }
    }

    /** Returns a direct view of a C-order float array's memory. */
    static FloatBuffer view(INDArray array) {
        long length = array.length();
        FloatPointer pointer = new FloatPointer(array.data().addressPointer());
        pointer.capacity(length).limit(length);
        return pointer.asBuffer();
    }
}
