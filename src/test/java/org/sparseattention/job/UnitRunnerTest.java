package org.sparseattention.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sparseattention.TestArrays;
import org.sparseattention.errors.InvalidInputException;
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
        // local with a window of 40 rows and blocks of 16: a unit's keys start three blocks before
        // its queries.
        JobSettings settings = JobTestSupport.settings(dir, dir.resolve("out"), H, "local", 40, 16, 1, 64, false);
        InputShape shape = new InputShape(B, L, H * D, H);
        HadoopStorage storage = new HadoopStorage();
        // {batch, first block, end block} or {..., chunk, first key block, end key block}: forward
        // steps that share key rows, into larger buffers (also into the last, short block) and
        // within the buffer ({1, 4, 6}); a step to the other batch item with the same rows; one
        // back; one whose queries start past those held; units of one block; and the two key
        // chunks of one query block, the second keeping all its query rows.
        int[][] units = {{0, 0, 2}, {0, 2, 4}, {0, 3, 6}, {0, 6, 10}, {1, 6, 10}, {1, 2, 5}, {1, 4, 6}, {1, 8, 10},
            {1, 0, 1}, {1, 1, 2}, {0, 6, 7, 0, 0, 2}, {0, 6, 7, 1, 2, 4}};
        assertSharedRowsGiveTheBytesOfFreshOnes(settings, shape, storage, units);
    }

    /**
     * fixed: a unit's keys are its window and the summary columns of every window before, rows in
     * many runs that the next unit reads too; a task reads each once.
     */
    @Test
    void fixedSummaryColumnsAreReadOncePerTask(@TempDir Path dir) throws IOException {
        writeInputs(dir, "<f4");
        JobSettings settings = JobTestSupport.settings(dir, dir.resolve("out"), H, "fixed", 32, 16, 1, 1, 64, false);
        InputShape shape = new InputShape(B, L, H * D, H);
        BlockLayout layout = Planner.layout(settings, shape);
        int[][] units = {{0, 4, 5}, {0, 5, 6}, {0, 6, 7}, {0, 7, 8}, {0, 8, 10}, {1, 8, 10}, {0, 9, 10}, {0, 2, 3}};
        assertSharedRowsGiveTheBytesOfFreshOnes(settings, shape, new HadoopStorage(), units);
        // Units 2 to 4 read their summary columns from the units before: far fewer rows than alone.
        List<WorkUnit> forward = new ArrayList<>();
        long alone = 0;
        for (int[] u : Arrays.copyOfRange(units, 0, 5)) {
            WorkUnit unit = new WorkUnit(0, u[0], 0, u[1], u[2], 0, 0, Integer.MAX_VALUE, 0);
            forward.add(unit);
            alone += Planner.rowsRead(layout, List.of(unit));
        }
        int[] keys = Planner.positions(layout.grid(0), Planner.keyBlocks(layout, forward.get(4)));
        assertTrue(keys.length > 2 && !isRun(keys), Arrays.toString(keys));
        assertTrue(Planner.rowsRead(layout, forward) < alone * 2 / 3, Planner.rowsRead(layout, forward) + " of " + alone);
    }

    /**
     * local+strided: units of the original order and of the residue order one after another share
     * rows that their frames hold in other blocks; the plan counts them row by row.
     */
    @Test
    void unitsOfTwoFramesShareRowsAsThePlanCounts(@TempDir Path dir) throws IOException {
        writeInputs(dir, "<f4");
        JobSettings settings = JobTestSupport.settings(dir, dir.resolve("out"), H, "local+strided", 8, 16, 1, 64, false);
        InputShape shape = new InputShape(B, L, H * D, H);
        assertEquals(2, Planner.layout(settings, shape).frameCount());
        // {batch, frame, first block, end block}.
        int[][] units = {{0, 0, 0, 3}, {0, 1, 0, 2}, {0, 1, 2, 5}, {0, 0, 3, 6}, {1, 1, 4, 6}, {1, 0, 5, 10}};
        assertSharedRowsGiveTheBytesOfFreshOnes(settings, shape, new HadoopStorage(), units);
    }

    /**
     * A bad value in rows read into places let go by the unit before is named with its row; the
     * runner then computes the next unit as a fresh one does.
     */
    @Test
    void aBadValueInRowsReadIntoFreedPlacesIsNamedAndTheRunnerGoesOn(@TempDir Path dir) throws IOException {
        writeInputs(dir, "<f4");
        float[] k = TestArrays.readNpy(dir.resolve("k.npy"));
        // Batch 0, row 100 (block 6), feature 3: first read by the unit of block 6, into block 4's places.
        k[100 * H * D + 3] = Float.NaN;
        TestArrays.writeNpy(dir.resolve("k.npy"), new long[] {B, L, H * D}, k);
        JobSettings settings = JobTestSupport.settings(dir, dir.resolve("out"), H, "fixed", 32, 16, 1, 1, 64, false);
        InputShape shape = new InputShape(B, L, H * D, H);
        HadoopStorage storage = new HadoopStorage();
        // The same batch item, the rows before block 4 (no bad value): computed after the failure from what is held.
        WorkUnit other = new WorkUnit(0, 0, 0, 2, 4, 0, 0, Integer.MAX_VALUE, 0);
        try (UnitRunner runner = new UnitRunner(settings, shape, storage)) {
            runner.compute(new WorkUnit(0, 0, 0, 4, 5, 0, 0, Integer.MAX_VALUE, 0));
            runner.compute(new WorkUnit(0, 0, 0, 5, 6, 0, 0, Integer.MAX_VALUE, 0));
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> runner.compute(new WorkUnit(0, 0, 0, 6, 7, 0, 0, Integer.MAX_VALUE, 0)));
            assertTrue(e.getMessage().startsWith("--k ") && e.getMessage().contains("non-finite value NaN at batch 0,"
                    + " row 100, feature 3"), e.getMessage());
            Partial after = copy(runner.compute(other));
            try (UnitRunner fresh = new UnitRunner(settings, shape, storage)) {
                Partial alone = copy(fresh.compute(other));
                assertArrayEquals(alone.output(), after.output());
                assertArrayEquals(alone.logSumExp(), after.logSumExp());
            }
        }
    }

    /**
     * Computes {@code units} ({batch, first block, end block}, {batch, frame, first block, end block}
     * or {batch, first block, end block, chunk, first key block, end key block}) in turn with one
     * runner, and each with a fresh one: the same bits, and the rows read as the planner counts them.
     */
    private static void assertSharedRowsGiveTheBytesOfFreshOnes(JobSettings settings, InputShape shape,
            HadoopStorage storage, int[][] units) throws IOException {
        BlockLayout layout = Planner.layout(settings, shape);
        List<WorkUnit> computed = new ArrayList<>();
        try (UnitRunner shared = new UnitRunner(settings, shape, storage)) {
            for (int[] u : units) {
                WorkUnit unit = u.length == 3 ? new WorkUnit(0, u[0], 0, u[1], u[2], 0, 0, Integer.MAX_VALUE, 0)
                        : u.length == 4 ? new WorkUnit(0, u[0], u[1], u[2], u[3], 0, 0, Integer.MAX_VALUE, 0)
                        : new WorkUnit(0, u[0], 0, u[1], u[2], u[3], u[4], u[5], 0);
                computed.add(unit);
                Partial kept = copy(shared.compute(unit));
                Partial alone;
                try (UnitRunner fresh = new UnitRunner(settings, shape, storage)) {
                    alone = copy(fresh.compute(unit));
                    assertEquals(Planner.rowsRead(layout, List.of(unit)), fresh.rowsRead(), "rows read alone");
                }
                assertEquals(Planner.rowsRead(layout, computed), shared.rowsRead(), "rows read, as the plan counts them");
                String what = unit.describe();
                assertEquals(alone.rows(), kept.rows(), what);
                assertArrayEquals(alone.positions(), kept.positions(), what);
                assertArrayEquals(alone.output(), kept.output(), what);
                assertArrayEquals(alone.logSumExp(), kept.logSumExp(), what);
            }
        }
    }

    @Test
    void aNonFiniteValueInAnyReadOfAUnitIsFound(@TempDir Path dir) throws IOException {
        writeInputs(dir, "<f4");
        JobSettings settings = JobTestSupport.settings(dir, dir.resolve("out"), H, "strided", 8, 16, 1, 64, false);
        InputShape shape = new InputShape(B, L, H * D, H);
        BlockLayout layout = Planner.layout(settings, shape);
        // A block of the residue order: its key rows come in short runs 8 apart, a read for each.
        WorkUnit unit = new WorkUnit(0, 1, 0, 2, 3, 0, 0, Integer.MAX_VALUE, 0);
        int[] keys = Planner.positions(layout.grid(0), Planner.keyBlocks(layout, unit));
        assertTrue(keys.length > 2 && !isRun(keys), Arrays.toString(keys));
        // NaN in k at the unit's first key row: its first read, with later reads all finite.
        float[] k = TestArrays.readNpy(dir.resolve("k.npy"));
        k[(L + keys[0]) * H * D + 3] = Float.NaN;
        TestArrays.writeNpy(dir.resolve("k.npy"), new long[] {B, L, H * D}, k);
        try (UnitRunner runner = new UnitRunner(settings, shape, new HadoopStorage())) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> runner.compute(unit));
            assertTrue(e.getMessage().startsWith("--k ") && e.getMessage().contains("k.npy")
                    && e.getMessage().contains("batch 1, row " + keys[0]
                    + ", feature 3"), e.getMessage());
        }
    }

    /** A float64 value that float32 cannot hold is named with its tensor's option, as a non-finite one is. */
    @Test
    void aFloat64ValueBeyondFloat32IsNamedWithItsOption(@TempDir Path dir) throws IOException {
        writeInputs(dir, "<f8");
        ByteBuffer v = ByteBuffer.wrap(Files.readAllBytes(dir.resolve("v.npy"))).order(ByteOrder.LITTLE_ENDIAN);
        int dataStart = v.capacity() - B * L * H * D * Double.BYTES;
        v.putDouble(dataStart + ((L + 3) * H * D + 2) * Double.BYTES, 1e300);
        Files.write(dir.resolve("v.npy"), v.array());
        JobSettings settings = JobTestSupport.settings(dir, dir.resolve("out"), H, "local", 40, 16, 1, 64, false);
        WorkUnit unit = new WorkUnit(0, 1, 0, 0, 2, 0, 0, Integer.MAX_VALUE, 0);
        try (UnitRunner runner = new UnitRunner(settings, new InputShape(B, L, H * D, H), new HadoopStorage())) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> runner.compute(unit));
            assertTrue(e.getMessage().startsWith("--v ") && e.getMessage().contains("v.npy: value at batch 1, row 3,"
                    + " feature 2: expected a magnitude of at most"), e.getMessage());
        }
    }

    /** An input replaced after planning by one of another length is refused, not read at the plan's offsets. */
    @Test
    void anInputWhoseShapeIsNotThePlannedOneIsRefused(@TempDir Path dir) throws IOException {
        writeInputs(dir, "<f4");
        JobSettings settings = JobTestSupport.settings(dir, dir.resolve("out"), H, "local", 40, 16, 1, 64, false);
        TestArrays.writeNpy(dir.resolve("v.npy"), new long[] {B, L - 1, H * D}, new float[B * (L - 1) * H * D]);
        InputShape planned = new InputShape(B, L, H * D, H);
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> new UnitRunner(settings, planned, new HadoopStorage()).close());
        assertTrue(e.getMessage().contains("v.npy: field 'shape': expected [2, 150, 10] as when the job was planned,"
                + " got [2, 149, 10]"), e.getMessage());
    }

    /** Returns whether {@code positions} are one run of consecutive positions, ascending. */
    private static boolean isRun(int[] positions) {
        for (int i = 1; i < positions.length; i++) {
            if (positions[i] != positions[i - 1] + 1) {
                return false;
            }
        }
        return positions.length > 0;
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

    /**
     * A shard task merges the shuffle's pieces, sorted in merge order, one at a time between its own
     * units: the bytes of every unit merged as a piece; pieces out of that order are refused.
     */
    @Test
    void aShardTaskMergesSortedPiecesBetweenItsOwnUnitsAndRefusesThemOutOfOrder(@TempDir Path dir) throws IOException {
        writeInputs(dir, "<f4");
        // local+strided, local rows of up to 4 key blocks in chunks of 2, shards of 50 rows: the original
        // order's units in place, and the residue order's pieces merged into the same rows between them.
        JobSettings settings = JobTestSupport.settings(dir, dir.resolve("out"), H, "local+strided", 40, 16, 1, 2,
                false);
        InputShape shape = new InputShape(B, L, H * D, H);
        HadoopStorage storage = new HadoopStorage();
        org.sparseattention.plan.Plan plan = Planner.plan(settings, shape, 2);
        java.util.TreeMap<PieceKey, Piece> shuffled = new java.util.TreeMap<>();
        java.util.TreeMap<PieceKey, Piece> every = new java.util.TreeMap<>();
        List<List<WorkUnit>> inPlace = plan.inPlace();
        List<List<WorkUnit>> sources = new ArrayList<>(plan.partitions());
        sources.addAll(inPlace);
        for (int s = 0; s < sources.size(); s++) {
            try (UnitTask task = new UnitTask(settings, shape, sources.get(s), storage, TaskTimes.NONE)) {
                while (task.hasNext()) {
                    scala.Tuple2<PieceKey, Piece> piece = task.next();
                    every.put(piece._1(), piece._2());
                    if (s < plan.partitions().size()) {
                        shuffled.put(piece._1(), piece._2());
                    }
                }
            }
        }
        int mixed = 0;
        int outOfOrder = 0;
        int otherShard = 0;
        for (int shard = 0; shard < inPlace.size(); shard++) {
            ShardResult alone = ShardTask.run(shard, List.of(), WarmUp.ofShard(every, shard), settings, shape,
                    storage, pairs -> { }, TaskTimes.NONE);
            ShardResult between = ShardTask.run(shard, inPlace.get(shard), WarmUp.ofShard(shuffled, shard), settings,
                    shape, storage, pairs -> { }, TaskTimes.NONE);
            assertArrayEquals(alone.output(), between.output(), "shard " + shard);
            assertArrayEquals(alone.logSumExp(), between.logSumExp(), "shard " + shard);
            mixed += !inPlace.get(shard).isEmpty() && WarmUp.ofShard(shuffled, shard).hasNext() ? 1 : 0;
            List<scala.Tuple2<PieceKey, Piece>> reversed = new ArrayList<>();
            WarmUp.ofShard(every, shard).forEachRemaining(reversed::add);
            java.util.Collections.reverse(reversed);
            int s = shard;
            if (reversed.size() > 1) {
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> ShardTask.run(s, List.of(),
                        reversed.iterator(), settings, shape, storage, pairs -> { }, TaskTimes.NONE));
                assertTrue(e.getMessage().contains("out of merge order"), e.getMessage());
                outOfOrder++;
            }
            // A piece of another shard, as a partitioner gone wrong would send it, is refused too.
            if (!reversed.isEmpty() && shard + 1 < inPlace.size()) {
                IllegalStateException other = assertThrows(IllegalStateException.class, () -> ShardTask.run(s + 1,
                        List.of(), reversed.iterator(), settings, shape, storage, pairs -> { }, TaskTimes.NONE));
                assertEquals("shard " + (s + 1) + " got a piece of shard " + s, other.getMessage());
                otherShard++;
            }
        }
        assertTrue(outOfOrder > 0 && otherShard > 0, "both refusals tried: " + outOfOrder + ", " + otherShard);
        assertTrue(mixed > 0, "some shard merges pieces between units of its own: " + plan.inPlace());
    }
}
