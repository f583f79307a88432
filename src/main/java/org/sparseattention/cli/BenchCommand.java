package org.sparseattention.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.Words;
import org.sparseattention.io.WholeFiles;
import org.sparseattention.job.SparkSetup;
import org.sparseattention.kernel.AttentionOutput;
import org.sparseattention.kernel.BlockSparseKernel;
import org.sparseattention.kernel.KernelProfile;
import org.sparseattention.kernel.SparseForward;
import org.sparseattention.kernel.Threads;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.Patterns;
import org.sparseattention.plan.JobSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bench}: the kernel's useful throughput against the machine's matrix-product ceiling,
 * both measured in this process and this run. No Spark.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measures the float32 matrix-product ceiling through ND4J, then the kernel on each pattern,"
                + " and prints useful GFLOP/s and the ratio to the ceiling.")
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--seq-len", defaultValue = "65536", description = "L for the sparse patterns. Default: ${DEFAULT-VALUE}.")
    int seqLen;

    @Option(names = "--all-seq-len", defaultValue = "16384", description = "L for 'all', 'local' with --local-ctx 0 or less, and unions with them. Default: ${DEFAULT-VALUE}.")
    int allSeqLen;

    @Option(names = "--heads", defaultValue = "8", description = "Heads. Default: ${DEFAULT-VALUE}.")
    int heads;

    @Option(names = "--head-dim", defaultValue = "64", description = "Head dimension D. Default: ${DEFAULT-VALUE}.")
    int headDim;

    @Option(names = "--block-size", defaultValue = "64", description = "Block size. Default: ${DEFAULT-VALUE}.")
    int blockSize;

    @Option(names = "--local-ctx", defaultValue = "256", paramLabel = "<localCtx>",
            description = "l of every pattern. Default: ${DEFAULT-VALUE}.")
    int context;

    @Option(names = "--patterns", defaultValue = "local,strided,local+strided,fixed,all",
            description = "Patterns to run, comma-separated. Default: ${DEFAULT-VALUE}.")
    List<String> patterns;

    @Option(names = "--repetitions", defaultValue = "3", description = "Timed runs per pattern, after one untimed run (the median is printed). Default: ${DEFAULT-VALUE}.")
    int repetitions;

    @Option(names = "--threads", defaultValue = "0", description = "Kernel threads, at most the cores; 0 (the default) for all cores.")
    int threads;

    /** The ceiling product's default size: large enough that BLAS runs at the machine's rate. */
    static final int DEFAULT_CEILING_SIZE = 2048;

    @Option(names = "--ceiling-size", defaultValue = "" + DEFAULT_CEILING_SIZE, description = "n of the n x n x n ceiling product. Default: ${DEFAULT-VALUE}.")
    int ceilingSize;

    @Option(names = "--num-verts", defaultValue = "4", description = "num_verts of 'fixed' (--heads must be a multiple). Default: ${DEFAULT-VALUE}.")
    int numVerts;

    @Option(names = "--vertsize", defaultValue = "1", description = "vertsize of 'fixed'. Default: ${DEFAULT-VALUE}.")
    int vertsize;

    @Option(names = "--json", description = "Also write the figures as JSON to this file (a path or URI).")
    String json;

    @Option(names = "--overwrite", fallbackValue = "true", description = "Replace an existing --json file.")
    boolean overwrite;

    @Option(names = "--profile", fallbackValue = "true", description = "Also print where the kernel's time goes, phase by phase.")
    boolean profile;

    @Override
    public Integer call() throws Exception {
        JobSettings.atLeastOne("--repetitions", repetitions);
        JobSettings.atLeastOne("--heads", heads);
        JobSettings.atLeastOne("--head-dim", headDim);
        JobSettings.atLeastOne("--seq-len", seqLen);
        JobSettings.atLeastOne("--all-seq-len", allSeqLen);
        JobSettings.atLeastOne("--ceiling-size", ceilingSize);
        JobSettings.atLeastOne("--block-size", blockSize);
        int cores = Runtime.getRuntime().availableProcessors();
        if (threads < 0 || threads > cores) {
            // More threads than cores would measure the threads' contention, not the kernel.
            throw new InvalidInputException("--threads must be between 0 (all cores) and the " + cores
                    + " cores of this machine, got " + threads);
        }
        int workers = threads > 0 ? threads : cores;
        // Split here rather than by picocli, which drops an empty last item: "local," is refused as
        // layout's and verify's --mode refuse it. " local, all" as "local,all": `all` runs at
        // --all-seq-len whatever the spacing.
        List<String> items = new java.util.ArrayList<>();
        for (String given : patterns) {
            for (String item : given.split(",", -1)) {
                if (item.isBlank()) {
                    throw new InvalidInputException("--patterns '" + given + "': " + (given.isBlank()
                            ? "names no pattern, expected names such as local,strided"
                            : "an item is empty, expected pattern names on both sides of each ,"));
                }
                items.add(Patterns.canonical(item));
            }
        }
        patterns = items;
        // Every pattern, array size and the --json file checked before the ceiling's products, which take a while.
        for (String mode : patterns) {
            int length = lengthOf(mode);
            BlockLayout layout;
            try {
                layout = BlockLayout.of(Patterns.parse(mode, context, blockSize, numVerts, vertsize), length, blockSize,
                        heads);
            } catch (InvalidInputException e) {
                String defaults = spec.findOption("--patterns").defaultValue();
                boolean listed = !spec.commandLine().getParseResult().hasMatchedOption("--patterns")
                        && String.join(",", patterns).equals(defaults);
                // The item is named here: the mode's own prefix would name an option bench does not have.
                // Its , lists patterns: a per-head mix is not one of bench's items.
                String problem = e.getMessage().replace(Patterns.PREFIX + "'" + mode + "': ", "")
                        .replace(Patterns.JOINERS, ", joined by + (union)");
                throw new InvalidInputException("--patterns '" + mode + "'" + (listed ? " (of the default list "
                        + defaults + ")" : "") + ": " + problem, e);
            }
            BlockSparseKernel.requirePassesFit(layout, SparseForward.DEFAULT_MAX_KEY_BLOCKS);
            String lengthOption = dense(mode) ? "--all-seq-len" : "--seq-len";
            long values = arrayLength(lengthOption + " x --heads x --head-dim for '" + mode + "'", length, heads,
                    headDim);
            // q, k, v and the output, and the log-sum-exps: on the heap, with the kernel's scratch beside them.
            long bytes = (4 * values + (long) heads * length) * Float.BYTES;
            if (bytes > Runtime.getRuntime().maxMemory()) {
                throw new InvalidInputException("--patterns '" + mode + "' at L=" + length + ": q, k, v and the output"
                        + " need " + bytes + " bytes, more than the " + Runtime.getRuntime().maxMemory()
                        + " bytes of this JVM's heap (-Xmx; SPARSE_ATTENTION_JAVA_OPTS for jobs/sparse-attention);"
                        + " choose a smaller " + lengthOption + ", --heads or --head-dim");
            }
        }
        // The ceiling's operands: three n x n float32 matrices per thread, off the heap, in ND4J's memory
        // (checked after the patterns: reading the limit loads ND4J's native library).
        arrayLength("--ceiling-size x --ceiling-size", ceilingSize, ceilingSize);
        long ceilingBytes = 3L * workers * ceilingSize * ceilingSize * Float.BYTES;
        long offHeap = org.bytedeco.javacpp.Pointer.maxBytes();
        if (offHeap > 0 && ceilingBytes > offHeap) {
            throw new InvalidInputException("--ceiling-size " + ceilingSize + ": the ceiling's products need " + ceilingBytes
                    + " bytes (3 x " + workers + " threads x " + ceilingSize + "^2 float32), ND4J may use " + offHeap
                    + " (-Dorg.bytedeco.javacpp.maxbytes: 6G from jobs/sparse-attention, where"
                    + " SPARSE_ATTENTION_JAVA_OPTS may raise it; else the heap's -Xmx); choose a smaller size");
        }
        // The launcher's file system settings, only for a file to write.
        WholeFiles files = json == null ? null : WholeFiles.on(SparkSetup.launcherStorage());
        if (json != null) {
            files.checkWritable("--json ", json, overwrite);
        } else if (overwrite) {
            System.err.println("note: --overwrite does nothing without --json");
        }
        PatternOptions.noteDenseLocal(String.join(",", patterns), context);
        System.out.printf(Locale.ROOT, "machine: %s, %s; %s%n",
                Words.count(Runtime.getRuntime().availableProcessors(), "core"), System.getProperty("os.arch"),
                Words.count(workers, "kernel thread"));
        try {
            double ceiling = ceiling(workers);
            System.out.printf(Locale.ROOT, "ceiling: %s GFLOP/s (float32 %d^3 products through ND4J)%n",
                    Words.digits(ceiling, 1),
                    ceilingSize);
            if (profile) {
                KernelProfile.enable();
            }
            return measure(workers, ceiling, files);
        } finally {
            KernelProfile.disable();
        }
    }

    /** Returns the product of {@code sizes}, refusing one that no Java array can hold. */
    static int arrayLength(String what, long... sizes) {
        BigInteger product = BigInteger.ONE;
        StringBuilder factors = new StringBuilder();
        for (long size : sizes) {
            product = product.multiply(BigInteger.valueOf(size));
            factors.append(factors.length() == 0 ? "" : " x ").append(size);
        }
        if (product.compareTo(BigInteger.valueOf(Integer.MAX_VALUE - 8)) > 0) {
            throw new InvalidInputException(what + ": expected at most " + (Integer.MAX_VALUE - 8)
                    + " elements in one array, got " + factors + " = " + product);
        }
        return product.intValueExact();
    }

    /** Runs the patterns and prints (and writes, with {@code --json}) their figures against {@code ceiling}. */
    private int measure(int workers, double ceiling, WholeFiles files) throws Exception {
        warmUp(workers);
        if (repetitions == 1) {
            // No spread to judge a figure by: the first pattern's run may still meet the compiler at work.
            System.err.println("note: --repetitions 1 times one run per pattern, which nothing shows to be steady:"
                    + " 2 or more show the spread, 3 or more give a median one slow run cannot move");
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        System.out.printf(Locale.ROOT, "%-16s %9s %12s %10s %10s %7s%n", "pattern", "L", "useful GFLOP", "seconds", "GFLOP/s", "ratio");
        for (String mode : patterns) {
            int length = lengthOf(mode);
            BlockLayout layout = BlockLayout.of(Patterns.parse(mode, context, blockSize, numVerts, vertsize), length,
                    blockSize, heads);
            double usefulGflop = layout.stats().usefulFlops(headDim) / 1e9;
            int n = arrayLength("--seq-len x --heads x --head-dim", length, heads, headDim);
            float[] q = normal(1, n);
            float[] k = normal(2, n);
            float[] v = normal(3, n);
            float scale = (float) (1 / Math.sqrt(headDim));
            // The output is allocated once, as the ceiling's product matrix is: a caller computing
            // repeatedly does so (the job's tasks reuse theirs), and the timed runs then measure the
            // kernel rather than the allocation and first touch of a fresh array.
            AttentionOutput out = new AttentionOutput(1, length, heads, headDim, new float[n],
                    new float[heads * length]);
            SparseForward.forward(q, k, v, layout, scale, SparseForward.DEFAULT_MAX_KEY_BLOCKS, workers, out);
            KernelProfile.reset();
            double[] seconds = new double[repetitions];
            for (int r = 0; r < repetitions; r++) {
                long start = System.nanoTime();
                SparseForward.forward(q, k, v, layout, scale, SparseForward.DEFAULT_MAX_KEY_BLOCKS, workers, out);
                seconds[r] = (System.nanoTime() - start) / 1e9;
            }
            double median = median(seconds);
            double gflops = usefulGflop / median;
            System.out.printf(Locale.ROOT, "%-16s %9d %12s %10s %10s %7s%n", mode, length, Words.digits(usefulGflop, 2),
                    Words.digits(median, 3), Words.digits(gflops, 1), Words.digits(gflops / ceiling, 3));
            String spread = spread(mode, seconds);
            if (spread != null) {
                System.err.println(spread);
            }
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("pattern", mode);
            row.put("seq_len", length);
            row.put("useful_gflop", usefulGflop);
            row.put("seconds", median);
            row.put("gflops", gflops);
            row.put("ratio", gflops / ceiling);
            if (profile) {
                Map<String, Object> phases = new LinkedHashMap<>();
                StringBuilder line = new StringBuilder("  time per run, mean of the runs (thread-seconds):");
                // Phases are summed over all repetitions, so the time they are taken from is the mean
                // run's, not the median's (which left "other" below zero when one run was slow).
                double total = workers * Arrays.stream(seconds).average().orElse(median);
                KernelProfile.seconds().forEach((phase, secs) -> {
                    double perRun = secs / repetitions;
                    phases.put(phase.name().toLowerCase(Locale.ROOT), perRun);
                    line.append(String.format(Locale.ROOT, " %s %.3f (%.0f%%)", phase.name().toLowerCase(Locale.ROOT), perRun, 100 * perRun / total));
                });
                double accounted = phases.values().stream().mapToDouble(x -> (Double) x).sum();
                line.append(String.format(Locale.ROOT, " other %.3f (%.0f%%)", total - accounted, 100 * (total - accounted) / total));
                phases.put("other", total - accounted);
                System.out.println(line);
                row.put("thread_seconds_by_phase", phases);
            }
            rows.add(row);
        }
        if (rows.stream().anyMatch(row -> (Double) row.get("ratio") > 1)) {
            // A small product does not reach the machine's rate: the ratios are then no measure of the kernel.
            System.err.println("note: a ratio above 1: the ceiling's " + ceilingSize + "^3 products ran slower than the"
                    + " kernel; " + (ceilingSize < DEFAULT_CEILING_SIZE ? "products of " + DEFAULT_CEILING_SIZE
                    + "^3 (the default --ceiling-size) measure the machine" : "the ceiling was understated (another"
                    + " process on the cores while it ran?): run again"));
        }
        if (json != null) {
            Map<String, Object> root = new LinkedHashMap<>();
            root.put("tool", Main.VERSION);
            root.put("ceiling_gflops", ceiling);
            root.put("ceiling_size", ceilingSize);
            root.put("cores", Runtime.getRuntime().availableProcessors());
            root.put("threads", workers);
            root.put("heads", heads);
            root.put("head_dim", headDim);
            root.put("block_size", blockSize);
            root.put("local_ctx", context);
            root.put("num_verts", numVerts);
            root.put("vertsize", vertsize);
            root.put("repetitions", repetitions);
            root.put("patterns", rows);
            byte[] figures = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(root);
            Main.warnLeftOver(files.writeWhole("--json ", List.of(json), overwrite, (file, out) -> out.write(figures)));
            System.out.println("wrote " + json);
        }
        return 0;
    }

    /**
     * Returns a note where {@code mode}'s timed runs took more than 1.5 x as long as each other (small
     * sizes run partly before the compiler has compiled the kernel; another process may share the
     * cores), else null.
     */
    static String spread(String mode, double[] seconds) {
        double fastest = Arrays.stream(seconds).min().orElse(0);
        double slowest = Arrays.stream(seconds).max().orElse(0);
        return slowest > 1.5 * fastest ? "note: " + mode + "'s timed runs took from " + Words.figure(fastest, 3) + " to "
                + Words.figure(slowest, 3) + " s: more --repetitions, or longer sequences, give steadier figures" : null;
    }

    /** Returns the median of {@code values}, sorting them: the mean of the middle two for an even count. */
    static double median(double[] values) {
        Arrays.sort(values);
        return (values[(values.length - 1) / 2] + values[values.length / 2]) / 2;
    }

    /**
     * Returns the length pattern {@code mode} runs at: {@code --all-seq-len} for the dense ones, `all`
     * and `local` with a window of 0 or less (every earlier position), and unions with them.
     */
    private int lengthOf(String mode) {
        return dense(mode) ? allSeqLen : seqLen;
    }

    /** Whether {@code mode} attends every earlier position in some head: `all`, or `local` with a window of 0 or less. */
    private boolean dense(String mode) {
        List<String> names = Patterns.names(mode);
        return names.contains("all") || context <= 0 && names.contains("local");
    }

    /** Runs every pattern once on a short sequence, so that timed runs meet compiled code. */
    private void warmUp(int workers) {
        for (String mode : patterns) {
            // Eight windows, and at least 2048 rows (a window of 0 or less attends everything).
            int length = (int) Math.min(lengthOf(mode), Math.max(2048L, 8L * context));
            BlockLayout layout = BlockLayout.of(Patterns.parse(mode, context, blockSize, numVerts, vertsize), length,
                    blockSize, heads);
            int n = arrayLength("--seq-len x --heads x --head-dim", length, heads, headDim);
            for (int round = 0; round < 3; round++) {
                SparseForward.forward(normal(round, n), normal(round + 1, n), normal(round + 2, n), 1, layout, headDim,
                        1f / (float) Math.sqrt(headDim), SparseForward.DEFAULT_MAX_KEY_BLOCKS, workers);
            }
        }
    }

    /**
     * Returns the best float32 GFLOP/s of n^3 products: {@code workers} concurrent products on one
     * BLAS thread each (one thread per core, as the kernel runs), or one product on {@code workers}
     * BLAS threads.
     */
    private double ceiling(int workers) throws Exception {
        int n = ceilingSize;
        double flops = 2.0 * n * n * n;
        Threads.configure(1);
        INDArray[][] operands = new INDArray[workers][];
        for (int t = 0; t < workers; t++) {
            operands[t] = new INDArray[] {Nd4j.rand(DataType.FLOAT, n, n), Nd4j.rand(DataType.FLOAT, n, n),
                Nd4j.create(DataType.FLOAT, n, n)};
        }
        ExecutorService pool = Executors.newFixedThreadPool(workers);
        double concurrent = 0;
        try {
            for (int round = 0; round < 3; round++) {
                List<Callable<Void>> work = new ArrayList<>();
                for (INDArray[] o : operands) {
                    work.add(() -> {
                        Nd4j.gemm(o[0], o[1], o[2], false, false, 1.0, 0.0);
                        return null;
                    });
                }
                long start = System.nanoTime();
                for (Future<Void> f : pool.invokeAll(work)) {
                    f.get();
                }
                concurrent = Math.max(concurrent, workers * flops / ((System.nanoTime() - start) / 1e9) / 1e9);
            }
        } finally {
            pool.shutdownNow();
        }
        Threads.configure(workers);
        double single = 0;
        for (int round = 0; round < 3; round++) {
            long start = System.nanoTime();
            Nd4j.gemm(operands[0][0], operands[0][1], operands[0][2], false, false, 1.0, 0.0);
            single = Math.max(single, flops / ((System.nanoTime() - start) / 1e9) / 1e9);
        }
        if (workers == 1) {
            // One product on one thread, three times through the pool and three times directly: the best.
            System.out.printf(Locale.ROOT, "ceiling candidates: one single-thread product %s GFLOP/s (best of six)%n",
                    Words.digits(Math.max(concurrent, single), 1));
        } else {
            System.out.printf(Locale.ROOT, "ceiling candidates: %d concurrent single-thread products %s GFLOP/s, one"
                    + " %d-thread product %s GFLOP/s%n", workers, Words.digits(concurrent, 1), workers,
                    Words.digits(single, 1));
        }
        return Math.max(concurrent, single);
    }

    /** Returns {@code n} standard-normal floats from {@code seed}. */
    static float[] normal(long seed, int n) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return values;
    }
}
