package org.sparseattention.cli;

import java.io.BufferedOutputStream;
import java.io.OutputStream;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.io.HadoopStorage;
import org.sparseattention.io.NpyWriter;
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

    @Option(names = "--overwrite", description = "Replace existing q.npy, k.npy, v.npy.")
    boolean overwrite;

    @Override
    public Integer call() throws Exception {
        for (String[] check : new String[][] {{"--batch", "" + batch}, {"--seq-len", "" + seqLen}, {"--dim", "" + dim}}) {
            if (Integer.parseInt(check[1]) < 1) {
                throw new InvalidInputException(check[0] + " must be >= 1, got " + check[1]);
            }
        }
        HadoopStorage storage = new HadoopStorage();
        String[] names = {"q.npy", "k.npy", "v.npy"};
        for (String name : names) {
            Path file = new Path(out, name);
            if (storage.exists(file.toString()) && !overwrite) {
                throw new InvalidInputException(file + " already exists: pass --overwrite to replace it");
            }
        }
        FileSystem fs = storage.fileSystem(out);
        long[] shape = {batch, seqLen, dim};
        float[] row = new float[dim];
        for (int t = 0; t < names.length; t++) {
            Path target = new Path(out, names[t]);
            Path temporary = new Path(out, "." + names[t] + ".tmp");
            SplittableRandom random = new SplittableRandom(seed * 3 + t);
            try (OutputStream stream = new BufferedOutputStream(fs.create(temporary, true), 1 << 20)) {
                stream.write(NpyWriter.header(NpyWriter.FLOAT32, shape));
                for (long r = 0; r < (long) batch * seqLen; r++) {
                    for (int e = 0; e < dim; e++) {
                        row[e] = (float) random.nextGaussian();
                    }
                    NpyWriter.writeFloats(stream, row, 0, dim);
                }
            } catch (Exception e) {
                fs.delete(temporary, false);
                throw e;
            }
            if (fs.exists(target)) {
                fs.delete(target, false);
            }
            if (!fs.rename(temporary, target)) {
                throw new IllegalStateException("could not rename " + temporary + " to " + target);
            }
            System.out.println("wrote " + target + " " + java.util.Arrays.toString(shape) + " float32");
        }
        return 0;
    }
}
