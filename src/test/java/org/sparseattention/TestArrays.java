package org.sparseattention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.sparseattention.io.HadoopStorage;
import org.sparseattention.io.NpyFile;
import org.sparseattention.io.NpyHeader;
import org.sparseattention.io.NpyWriter;
import org.sparseattention.io.Storage;

/** Random inputs and size-scaled comparisons shared by the tests. */
public final class TestArrays {
    private TestArrays() {
    }

    /** Returns {@code n} standard normal floats from {@code seed}. */
    public static float[] normal(long seed, int n) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] values = new float[n];
        for (int i = 0; i < n; i += 2) {
            double u = random.nextDouble();
            double w = random.nextDouble();
            double radius = Math.sqrt(-2 * Math.log(1 - u));
            values[i] = (float) (radius * Math.cos(2 * Math.PI * w));
            if (i + 1 < n) {
                values[i + 1] = (float) (radius * Math.sin(2 * Math.PI * w));
            }
        }
        return values;
    }

    /**
     * Asserts that each element of {@code actual} matches {@code expected} within {@code tolerance}
     * relative to the larger of its own expected magnitude and the median magnitude of the finite,
     * nonzero expected values (so elements near zero are held to the array's typical size, not to its
     * largest); infinities must match exactly and NaN never passes.
     */
    public static void assertClose(double[] expected, float[] actual, double tolerance, String what) {
        assertEquals(expected.length, actual.length, what + ": lengths");
        double[] magnitudes = new double[expected.length];
        int nonzero = 0;
        for (double e : expected) {
            if (Double.isFinite(e) && e != 0) {
                magnitudes[nonzero++] = Math.abs(e);
            }
        }
        Arrays.sort(magnitudes, 0, nonzero);
        double floor = Math.max(nonzero == 0 ? 0 : magnitudes[nonzero / 2], 1e-30);
        double worst = 0;
        int worstIndex = -1;
        for (int i = 0; i < expected.length; i++) {
            if (Double.isInfinite(expected[i]) || Float.isInfinite(actual[i])) {
                if (expected[i] != actual[i]) {
                    fail(what + ": at " + i + " expected " + expected[i] + " but got " + actual[i]);
                }
                continue;
            }
            if (Double.isNaN(expected[i]) || Float.isNaN(actual[i])) {
                fail(what + ": at " + i + " expected " + expected[i] + " but got " + actual[i]);
            }
            double error = Math.abs(expected[i] - actual[i]) / Math.max(Math.abs(expected[i]), floor);
            if (error > worst) {
                worst = error;
                worstIndex = i;
            }
        }
        if (worst > tolerance) {
            fail(what + ": relative error " + worst + " > " + tolerance + " at " + worstIndex + " (expected "
                    + expected[worstIndex] + ", got " + actual[worstIndex] + ")");
        }
    }

    /** Reads a whole {@code .npy} file of rank 2 or 3 as float32 with the project's reader. */
    public static float[] readNpy(Path file) throws IOException {
        Storage storage = new HadoopStorage();
        String uri = file.toAbsolutePath().toUri().toString();
        NpyHeader header = NpyFile.readHeader(storage, uri);
        float[] values = new float[Math.toIntExact(header.elements())];
        long[] shape = NpyFile.batchShape(header);
        try (Storage.Input input = storage.open(uri)) {
            for (int b = 0; b < shape[0]; b++) {
                NpyFile.readRows(input, header, b, 0, (int) shape[1], values, (int) (b * shape[1] * shape[2]));
            }
        }
        return values;
    }

    /** Writes a float32 {@code .npy} file. */
    public static void writeNpy(Path file, long[] shape, float[] values) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        try (OutputStream out = Files.newOutputStream(file)) {
            NpyWriter.write(out, shape, values);
        }
    }

    /** Returns {@code values} widened to double. */
    public static double[] widen(float[] values) {
        double[] wide = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            wide[i] = values[i];
        }
        return wide;
    }

    /** Returns {@code values} rounded to float. */
    public static float[] narrow(double[] values) {
        float[] narrow = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            narrow[i] = (float) values[i];
        }
        return narrow;
    }
}
