package org.sparseattention.cli;

import java.util.Locale;
import java.util.concurrent.Callable;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;
import org.sparseattention.errors.Words;
import org.sparseattention.kernel.AttentionOutput;
import org.sparseattention.kernel.BlockSparseKernel;
import org.sparseattention.kernel.ReferenceAttention;
import org.sparseattention.kernel.SparseForward;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.Pattern;
import org.sparseattention.layout.Patterns;
import org.sparseattention.layout.TileList;
import org.sparseattention.plan.JobSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code verify}: the kernel against the float64 reference on random inputs of a chosen shape. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = "Runs the kernel and the float64 reference (every pair by the token rules, dense and quadratic) on random inputs"
                + " and fails when they differ by more than the tolerance; up to " + VerifyCommand.MAX_PAIRS
                + " pairs (--batch x --heads x --seq-len^2).")
final class VerifyCommand implements Callable<Integer> {
    /** The most pairs the reference checks: every pair of every head, each by the token rules. */
    static final long MAX_PAIRS = 4_000_000_000L;

    @Option(names = "--seq-len", defaultValue = "1000", description = "Sequence length L. Default: ${DEFAULT-VALUE}.")
    int seqLen;

    @Option(names = "--batch", defaultValue = "2", description = "Batch size B. Default: ${DEFAULT-VALUE}.")
    int batch;

    @Option(names = "--head-dim", defaultValue = "16", description = "Head dimension D. Default: ${DEFAULT-VALUE}.")
    int headDim;

    @Mixin
    PatternOptions pattern;

    @Option(names = "--seed", defaultValue = "0", description = "Random seed. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--max-key-blocks", defaultValue = "" + SparseForward.DEFAULT_MAX_KEY_BLOCKS,
            description = "Key blocks of a row computed at once; longer rows are split and merged, as in run. Default: ${DEFAULT-VALUE}.")
    int maxKeyBlocks;

    @Option(names = "--scale", description = "Score scale, as in run. Default: 1/sqrt(D).")
    Double scale;

    @Option(names = "--tolerance", defaultValue = "1e-5",
            description = "Largest relative error accepted (against the largest magnitude). Default: ${DEFAULT-VALUE}.")
    double tolerance;

    @Override
    public Integer call() {
        JobSettings.atLeastOne("--seq-len", seqLen);
        JobSettings.atLeastOne("--batch", batch);
        JobSettings.atLeastOne("--head-dim", headDim);
        JobSettings.atLeastOne("--max-key-blocks", maxKeyBlocks);
        pattern.check();
        if (scale != null) {
            SparseForward.checkScale("--scale", scale);
        }
        if (!(tolerance >= 0)) {
            throw new InvalidInputException("--tolerance: expected a relative error >= 0, got " + tolerance);
        }
        Pattern parsed = Patterns.parse(pattern.mode, pattern.localCtx, pattern.blockSize, pattern.numVerts,
                pattern.vertsize);
        int n = BenchCommand.arrayLength("--batch x --seq-len x --heads x --head-dim", batch, seqLen, pattern.heads,
                headDim);
        BlockLayout layout = BlockLayout.of(parsed, seqLen, pattern.blockSize, pattern.heads);
        BlockSparseKernel.requirePassesFit(layout, maxKeyBlocks);
        double pairs = (double) batch * pattern.heads * seqLen * seqLen;
        if (pairs > MAX_PAIRS) {
            // The reference checks every pair by the token rules: quadratic, a minute or two at this bound.
            throw new InvalidInputException(String.format(Locale.ROOT, "--batch x --heads x --seq-len^2 = %d x %d x %d^2"
                    + " = %.3g pairs for the float64 reference to check, more than the %d verify takes; choose a smaller"
                    + " --seq-len, --batch or --heads", batch, pattern.heads, seqLen, pairs, MAX_PAIRS));
        }
        // q, k, v and the kernel's output in float32, the reference's output in float64, and both
        // log-sum-exps: on the heap together.
        long lseValues = (long) batch * pattern.heads * seqLen;
        long bytes = 4L * n * Float.BYTES + (long) n * Double.BYTES + lseValues * (Float.BYTES + Double.BYTES);
        if (bytes > Runtime.getRuntime().maxMemory()) {
            throw new InvalidInputException("--batch x --seq-len x --heads x --head-dim = " + n + " values: q, k, v,"
                    + " the output and the float64 reference need " + bytes + " bytes, more than the "
                    + Runtime.getRuntime().maxMemory() + " bytes of this JVM's heap (-Xmx; SPARSE_ATTENTION_JAVA_OPTS"
                    + " for jobs/sparse-attention); choose a smaller --seq-len, --batch, --heads or --head-dim");
        }
        pattern.notes();
        float[][] qkv = {BenchCommand.normal(seed * 3, n), BenchCommand.normal(seed * 3 + 1, n),
            BenchCommand.normal(seed * 3 + 2, n)};
        // As run takes it: the float32 nearest the given scale, which both sides then use.
        float scores = scale == null ? (float) (1 / Math.sqrt(headDim)) : (float) (double) scale;
        AttentionOutput kernel = SparseForward.forward(qkv[0], qkv[1], qkv[2], batch, layout, headDim, scores,
                maxKeyBlocks, Runtime.getRuntime().availableProcessors());
        ReferenceAttention.Result reference = ReferenceAttention.compute(qkv[0], qkv[1], qkv[2], batch, seqLen,
                pattern.heads, headDim, parsed, scores);
        double outputError = relativeError(reference.output(), kernel.output());
        double lseError = relativeError(reference.logSumExp(), kernel.logSumExp());
        int longest = 0;
        TileList scratch = new TileList();
        for (int f = 0; f < layout.frameCount(); f++) {
            for (int qb = 0; qb < layout.grid(f).numBlocks(); qb++) {
                longest = Math.max(longest, layout.maxTiles(f, qb, scratch));
            }
        }
        String rows = "rows of up to " + Words.count(longest, "key block")
                + (longest > maxKeyBlocks ? " in chunks of " + Words.count(maxKeyBlocks, "block") : ", whole");
        System.out.printf(Locale.ROOT, "verify %s: B=%d L=%d H=%d D=%d block %d%s, %s: output relative error %s,"
                        + " log-sum-exp %s (tolerance %s)%n", Patterns.canonical(pattern.mode), batch, seqLen,
                pattern.heads, headDim, pattern.blockSize, scale == null ? "" : " scale " + scores, rows,
                figure(outputError), figure(lseError), figure(tolerance));
        if (!(outputError <= tolerance && lseError <= tolerance)) {
            throw new SparseAttentionException(String.format(Locale.ROOT,
                    "the kernel differs from the float64 reference by more than the tolerance %s", figure(tolerance)));
        }
        return 0;
    }

    /** Returns the largest absolute difference over the largest finite magnitude; infinities must match. */
    static double relativeError(double[] expected, float[] actual) {
        double scale = 1e-30;
        for (double e : expected) {
            if (Double.isFinite(e)) {
                scale = Math.max(scale, Math.abs(e));
            }
        }
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            if (Double.isInfinite(expected[i]) || Float.isInfinite(actual[i])) {
                if (expected[i] != actual[i]) {
                    return Double.POSITIVE_INFINITY;
                }
                continue;
            }
            double error = Math.abs(expected[i] - actual[i]) / scale;
            worst = Double.isNaN(error) ? Double.POSITIVE_INFINITY : Math.max(worst, error);
        }
        return worst;
    }

    /** Three significant digits, and an exact zero as "0" rather than "0.00". */
    static String figure(double x) {
        return x == 0 ? "0" : String.format(Locale.ROOT, "%.3g", x);
    }
}
