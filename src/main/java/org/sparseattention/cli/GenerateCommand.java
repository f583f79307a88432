package org.sparseattention.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.apache.hadoop.fs.Path;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.io.HadoopStorage;
import org.sparseattention.io.NpyWriter;
import org.sparseattention.io.WholeFiles;
import org.sparseattention.job.InputFiles;
import org.sparseattention.job.SparkSetup;
import org.sparseattention.plan.InputShape;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code generate}: random standard-normal q, k, v for trying and measuring the job. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Writes random float32 q.npy, k.npy, v.npy ([B, L, E], standard normal) into --out.")
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, description = "Directory for q.npy, k.npy and v.npy.")
    String out;

    @Option(names = "--batch", defaultValue = "1", description = "Batch size B. Default: ${DEFAULT-VALUE}.")
    int batch;

    @Option(names = "--seq-len", required = true, description = "Sequence length L.")
    int seqLen;

    @Option(names = "--dim", required = true, description = "Features E (heads x head dimension).")
    int dim;

    @Option(names = "--seed", defaultValue = "0", description = "Random seed. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--overwrite", fallbackValue = "true", description = "Replace existing q.npy, k.npy, v.npy.")
    boolean overwrite;

    @Override
    public Integer call() throws Exception {
        for (String[] check : new String[][] {{"--batch", "" + batch}, {"--seq-len", "" + seqLen}, {"--dim", "" + dim}}) {
            if (Integer.parseInt(check[1]) < 1) {
                throw new InvalidInputException(check[0] + " must be >= 1, got " + check[1]);
            }
        }
        // The sizes a run takes: larger inputs could be written but never used.
        if (seqLen > InputShape.MAX_SEQ_LEN) {
            throw new InvalidInputException("--seq-len: expected at most " + InputShape.MAX_SEQ_LEN + ", got " + seqLen);
        }
        if (dim > InputShape.MAX_FEATURES) {
            throw new InvalidInputException("--dim: expected at most " + InputShape.MAX_FEATURES + ", got " + dim);
        }
        HadoopStorage storage = SparkSetup.launcherStorage();
        Path dir = storage.path("--out ", out);
        if (storage.exists(out) && !storage.fileSystem(out).getFileStatus(dir).isDirectory()) {
            throw new InvalidInputException("--out " + out + " is a file: expected a directory to write q.npy, k.npy and"
                    + " v.npy into");
        }
        Path real = storage.realPath(dir);
        HadoopStorage.checkCanWriteIn("--out " + out, real);
        Path run = InputFiles.runOutputAt(storage.fileSystem(out), real);
        if (run != null) {
            throw new InvalidInputException("--out " + out + (run.getParent().equals(real) ? " holds" : " is inside")
                    + " a run's output (" + run + "), which inputs written in it would keep --overwrite from replacing:"
                    + " choose another directory for q.npy, k.npy and v.npy");
        }
        WholeFiles files = WholeFiles.on(storage);
        // All three are written before any is put in place: an existing set is replaced whole or
        // not at all, and an interrupted run leaves no file that looks complete.
        List<String> targets = new ArrayList<>();
        for (String name : new String[] {"q.npy", "k.npy", "v.npy"}) {
            // Joined as text: Hadoop's Path(parent, child) would drop a `..` of --out with the name before it,
            // where the storage resolves it as the operating system does (link/.. is the link target's parent).
            targets.add(out.endsWith("/") ? out + name : out + "/" + name);
            files.checkWritable("--out ", targets.get(targets.size() - 1), overwrite);
        }
        long[] shape = {batch, seqLen, dim};
        long bytes;
        try {
            bytes = Math.multiplyExact(3, Math.addExact(Math.multiplyExact((long) batch * seqLen, (long) dim * Float.BYTES),
                    NpyWriter.header(NpyWriter.FLOAT32, shape).length));
        } catch (ArithmeticException e) {
            bytes = Long.MAX_VALUE;
        }
        long remaining = storage.remaining(out);
        if (remaining >= 0 && bytes > remaining) {
            throw new InvalidInputException("--out " + out + ": q, k and v of " + java.util.Arrays.toString(shape)
                    + " need " + bytes + " bytes, " + remaining + " are free there");
        }
        float[] row = new float[dim];
        List<Path> leftOver = files.writeWhole("--out ", targets, overwrite, (t, stream) -> {
            SplittableRandom random = new SplittableRandom(seed * 3 + t);
            stream.write(NpyWriter.header(NpyWriter.FLOAT32, shape));
            for (long r = 0; r < (long) batch * seqLen; r++) {
                for (int e = 0; e < dim; e++) {
                    row[e] = (float) random.nextGaussian();
                }
                NpyWriter.writeFloats(stream, row, 0, dim);
            }
        });
        Main.warnLeftOver(leftOver);
        for (String target : targets) {
            System.out.println("wrote " + target + " " + java.util.Arrays.toString(shape) + " float32");
        }
        return 0;
    }
}
