package org.sparseattention;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.kernel.AttentionOutput;
import org.sparseattention.kernel.DenseAttention;
import org.sparseattention.kernel.SparseForward;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.Pattern;
import org.sparseattention.layout.Patterns;

/**
 * Sparse attention in this process, with the entry points of the paper's Python module:
 * a configured {@code SparseAttention} object, {@link #attentionImpl} (dense, masked) and
 * {@link #blocksparseAttentionImpl} (block-sparse). Inputs are {@code [B, L, E]} (or
 * {@code [L, E]}, read as {@code B = 1}) with {@code E = heads * D}, of any floating-point type;
 * they are computed in float32, and outputs are float32 arrays of the input's shape.
 */
public final class SparseAttention {
    /** The tool's name and version, as {@code --version} prints it and the outputs record it. */
    public static final String VERSION = "sparse-attention 0.1.0";

    private final int heads;
    private final Pattern pattern;
    private final int blockSize;
    private final double scale;
    private final int maxKeyBlocks;

    private SparseAttention(int heads, Pattern pattern, int blockSize, double scale, int maxKeyBlocks) {
        if (heads < 1) {
            throw new InvalidInputException("heads must be >= 1, got " + heads);
        }
        if (blockSize < 1) {
            throw new InvalidInputException("blockSize must be >= 1, got " + blockSize);
        }
        if (maxKeyBlocks < 1) {
            throw new InvalidInputException("maxKeyBlocks must be >= 1, got " + maxKeyBlocks);
        }
        if (pattern == null) {
            throw new InvalidInputException("pattern must not be null");
        }
        pattern.checkLayout(heads, blockSize);
        this.heads = heads;
        this.pattern = pattern;
        this.blockSize = blockSize;
        this.scale = scale;
        this.maxKeyBlocks = maxKeyBlocks;
    }

    /**
     * Returns block-sparse attention with {@code heads} heads, {@code pattern} and {@code blockSize}.
     *
     * @throws InvalidInputException for sizes below 1, a missing pattern, heads that {@code fixed}'s
     *     {@code numVerts} does not divide, or a {@code fixed} pattern built for another block size
     */
    public static SparseAttention of(int heads, Pattern pattern, int blockSize) {
        return new SparseAttention(heads, pattern, blockSize, Double.NaN, SparseForward.DEFAULT_MAX_KEY_BLOCKS);
    }

    /** Returns a copy that scales scores by {@code scale} instead of {@code 1/sqrt(D)}. */
    public SparseAttention withScale(double scale) {
        // Checked here: NaN is this class's mark for the default, which a NaN given here must not become.
        SparseForward.checkScale("scale", scale);
        return new SparseAttention(heads, pattern, blockSize, scale, maxKeyBlocks);
    }

    /** Returns a copy that computes at most {@code maxKeyBlocks} key blocks of a row at once. */
    public SparseAttention withMaxKeyBlocks(int maxKeyBlocks) {
        return new SparseAttention(heads, pattern, blockSize, scale, maxKeyBlocks);
    }

    /**
     * The output, shaped like the inputs ({@code [B, L, E]} or {@code [L, E]}), and the
     * log-sum-exp {@code [B, H, L]} of one call ({@code B = 1} for {@code [L, E]} inputs).
     */
    public record Result(INDArray output, INDArray logSumExp) {
    }

    /**
     * Returns the attention output, shaped like {@code q}.
     *
     * @throws InvalidInputException for inputs missing, of rank other than 2 or 3, of other shapes than
     *     each other, not of a floating-point type, with features {@code E} that the heads do not
     *     divide, with values float32 cannot hold, or whose scores overflow float32 (found as they are
     *     computed)
     */
    public INDArray forward(INDArray q, INDArray k, INDArray v) {
        return forwardWithLogSumExp(q, k, v).output();
    }

    /** Returns the attention output and the per-row log-sum-exp of every head; throws as {@link #forward}. */
    public Result forwardWithLogSumExp(INDArray q, INDArray k, INDArray v) {
        Inputs in = Inputs.check(q, k, v, heads);
        BlockLayout layout = BlockLayout.of(pattern, in.seqLen(), blockSize, heads);
        AttentionOutput out = SparseForward.forward(in.q(), in.k(), in.v(), in.batch(), layout,
                in.headDim(), in.scale(scale), maxKeyBlocks);
        return in.wrap(out);
    }

    /**
     * Dense masked attention: the whole score matrix, the pattern as a mask. {@code attnMode} is
     * {@code all}, {@code local} or {@code strided}, a union with {@code +} or a per-head list with
     * {@code ,}; {@code fixed} depends on the block size and needs the longer overload.
     */
    public static INDArray attentionImpl(INDArray q, INDArray k, INDArray v, int heads, String attnMode,
            int localAttnCtx) {
        if (attnMode != null && Patterns.names(attnMode).contains("fixed")) {
            throw new InvalidInputException("attnMode '" + attnMode + "' uses fixed, which depends on the block size:"
                    + " call attentionImpl(q, k, v, heads, attnMode, localAttnCtx, blockSize, numVerts, vertsize)");
        }
        return attentionImpl(q, k, v, heads, attnMode, localAttnCtx, 1, 1, 1);
    }

    /** Dense masked attention for any mode, {@code fixed} included. */
    public static INDArray attentionImpl(INDArray q, INDArray k, INDArray v, int heads, String attnMode,
            int localAttnCtx, int blockSize, int numVerts, int vertsize) {
        // Checked for every mode, as the block-sparse entry point checks it.
        if (blockSize < 1) {
            throw new InvalidInputException("blockSize must be >= 1, got " + blockSize);
        }
        Pattern pattern = Patterns.parse(attnMode, localAttnCtx, blockSize, numVerts, vertsize);
        Inputs in = Inputs.check(q, k, v, heads);
        pattern.checkHeads(heads);
        AttentionOutput out = DenseAttention.compute(in.q(), in.k(), in.v(), in.batch(), in.seqLen(), heads,
                in.headDim(), pattern, in.scale(Double.NaN));
        return in.wrap(out).output();
    }

    /** Block-sparse attention: the same numbers as {@link #attentionImpl}, computing only the layout's tiles. */
    public static INDArray blocksparseAttentionImpl(INDArray q, INDArray k, INDArray v, int heads, String attnMode,
            int localAttnCtx, int blockSize, int numVerts, int vertsize) {
        Pattern pattern = Patterns.parse(attnMode, localAttnCtx, blockSize, numVerts, vertsize);
        return of(heads, pattern, blockSize).forward(q, k, v);
    }

    /** Checked inputs as float32 arrays. */
    private record Inputs(int rank, int batch, int seqLen, int heads, int headDim, float[] q, float[] k, float[] v) {

        static Inputs check(INDArray q, INDArray k, INDArray v, int heads) {
            if (heads < 1) {
                throw new InvalidInputException("heads must be >= 1, got " + heads);
            }
            long[] shape = shapeOf("q", q);
            if (!Arrays.equals(shape, shapeOf("k", k))) {
                throw new InvalidInputException("q and k shapes differ: " + Arrays.toString(shape) + " != "
                        + Arrays.toString(k.shape()));
            }
            if (!Arrays.equals(shape, shapeOf("v", v))) {
                throw new InvalidInputException("q and v shapes differ: " + Arrays.toString(shape) + " != "
                        + Arrays.toString(v.shape()));
            }
            int rank = shape.length;
            long batch = rank == 3 ? shape[0] : 1;
            long seqLen = shape[rank - 2];
            long features = shape[rank - 1];
            if (features % heads != 0) {
                throw new InvalidInputException("features E must be divisible by heads: " + features + " % "
                        + heads + " != 0");
            }
            if (batch * seqLen * features > Integer.MAX_VALUE) {
                throw new InvalidInputException("q has " + batch * seqLen * features
                        + " elements, more than one in-process call takes (" + Integer.MAX_VALUE
                        + "); use the Spark job");
            }
            return new Inputs(rank, (int) batch, (int) seqLen, heads, (int) (features / heads),
                    floats("q", q), floats("k", k), floats("v", v));
        }

        private static long[] shapeOf(String name, INDArray array) {
            if (array == null) {
                throw new InvalidInputException(name + " must not be null");
            }
            if (array.rank() != 3 && array.rank() != 2) {
                throw new InvalidInputException(name + " must have rank 3 [B, L, E] or 2 [L, E], got rank "
                        + array.rank() + " " + Arrays.toString(array.shape()));
            }
            if (!array.dataType().isFPType()) {
                throw new InvalidInputException(name + " must hold floating-point values, got " + array.dataType());
            }
            for (long size : array.shape()) {
                if (size < 1) {
                    throw new InvalidInputException(name + " has an empty dimension: " + Arrays.toString(array.shape()));
                }
            }
            return array.shape();
        }

        /**
         * Returns {@code array} as float32 values in C order. NaN and infinities stay as they are
         * (IEEE arithmetic propagates them to the rows that attend them); a finite value that
         * float32 cannot hold is refused rather than turned into an infinity the input does not hold.
         */
        private static float[] floats(String name, INDArray array) {
            float[] values = array.castTo(DataType.FLOAT).dup('c').data().asFloat();
            INDArray ordered = null;
            for (int i = 0; i < values.length; i++) {
                if (Float.isInfinite(values[i])) {
                    ordered = ordered == null ? array.dup('c') : ordered;
                    double value = ordered.data().getDouble(i);
                    if (!Double.isInfinite(value)) {
                        long[] index = new long[array.rank()];
                        for (int d = index.length - 1, rest = i; d >= 0; d--) {
                            index[d] = rest % array.size(d);
                            rest /= array.size(d);
                        }
                        throw new InvalidInputException(name + ": value at " + Arrays.toString(index)
                                + ": expected a magnitude of at most " + Float.MAX_VALUE + " (float32), got " + value);
                    }
                }
            }
            return values;
        }

        float scale(double requested) {
            return (float) (Double.isNaN(requested) ? 1.0 / Math.sqrt(headDim) : requested);
        }

        Result wrap(AttentionOutput out) {
            long[] shape = rank == 3 ? new long[] {batch, seqLen, (long) heads * headDim}
                    : new long[] {seqLen, (long) heads * headDim};
            INDArray output = Nd4j.create(out.output(), shape, DataType.FLOAT);
            INDArray lse = Nd4j.create(out.logSumExp(), new long[] {batch, heads, seqLen}, DataType.FLOAT);
            return new Result(output, lse);
        }
    }
}
