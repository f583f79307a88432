package org.sparseattention.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sparseattention.TestArrays;
import org.sparseattention.io.HadoopStorage;
import org.sparseattention.io.NpyWriter;
import org.sparseattention.kernel.Partial;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.plan.InputShape;
import org.sparseattention.plan.JobSettings;
import org.sparseattention.plan.Planner;
import org.sparseattention.plan.WorkUnit;

/** A runner that keeps the key rows consecutive units share computes what a fresh runner computes. */
class UnitRunnerTest {
    static final int B = 2;
    static final int L = 150;
    static final int H = 2;
    static final int D = 5;

    /** float32 rows go from the file through a direct buffer; float64 rows through bytes, converted. */
    @ParameterizedTest
    @ValueSource(strings = {"<f4", "<f8"})
    void unitsThatShareKeyRowsGiveTheBytesOfUnitsComputedAlone(String dtype, @TempDir Path dir) throws IOException {
        writeInputs(dir, dtype);
        // local with a window of 40 rows and blocks of 16: a unit's keys reach 2-3 blocks back.
        JobSettings settings = JobTestSupport.settings(dir, dir.resolve("out"), H, "local", 40, 16, 1, 64, false);
        InputShape shape = new InputShape(B, L, H * D, H);
        HadoopStorage storage = new HadoopStorage();
        // Forward steps that share rows, into larger buffers (also into the last, short block) and
        // within the buffer ({1, 4, 6}); a step to the other batch item with the same rows, one
        // back, one past everything held, and units of one block.
        int[][] units = {{0, 0, 2}, {0, 2, 4}, {0, 3, 6}, {0, 6, 10}, {1, 6, 10}, {1, 2, 5}, {1, 4, 6}, {1, 8, 10},
            {1, 0, 1}, {1, 1, 2}};
        BlockLayout layout = Planner.layout(settings, shape);
        List<WorkUnit> computed = new ArrayList<>();
        try (UnitRunner shared = new UnitRunner(settings, shape, storage)) {
            for (int[] u : units) {
                WorkUnit unit = new WorkUnit(0, u[0], 0, u[1], u[2], 0, 0, Integer.MAX_VALUE, 0);
                computed.add(unit);
                Partial kept = copy(shared.compute(unit));
                Partial alone;
                try (UnitRunner fresh = new UnitRunner(settings, shape, storage)) {
                    alone = copy(fresh.compute(unit));
                    assertEquals(Planner.rowsRead(layout, List.of(unit)), fresh.rowsRead(), "rows read alone");
                }
                assertEquals(Planner.rowsRead(layout, computed), shared.rowsRead(), "rows read, as the plan counts them");
                String what = "batch " + u[0] + ", blocks " + u[1] + ".." + u[2];
                assertEquals(alone.rows(), kept.rows(), what);
                assertArrayEquals(alone.positions(), kept.positions(), what);
                assertArrayEquals(alone.output(), kept.output(), what);
                assertArrayEquals(alone.logSumExp(), kept.logSumExp(), what);
            }
        }
    }

    private static void writeInputs(Path dir, String dtype) throws IOException {
        long[] shape = {B, L, H * D};
        String[] names = {"q.npy", "k.npy", "v.npy"};
        for (int t = 0; t < 3; t++) {
            float[] values = TestArrays.normal(7 + t, B * L * H * D);
            if (dtype.equals("<f4")) {
                TestArrays.writeNpy(dir.resolve(names[t]), shape, values);
                continue;
            }
            ByteBuffer data = ByteBuffer.allocate(values.length * Double.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            for (float x : values) {
                data.putDouble(x);
            }
            try (OutputStream out = Files.newOutputStream(dir.resolve(names[t]))) {
                out.write(NpyWriter.header(dtype, shape));
                out.write(data.array());
            }
        }
    }

    /** Copies a partial's rows out of the runner's arrays, which the next unit reuses. */
    private static Partial copy(Partial p) {
        int rows = p.rows();
        return new Partial(Arrays.copyOf(p.positions(), rows), p.heads(), p.headDim(),
                Arrays.copyOf(p.output(), rows * p.heads() * p.headDim()), Arrays.copyOf(p.logSumExp(), rows * p.heads()));
    }
}
