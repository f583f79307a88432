package org.sparseattention.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseattention.errors.SparseAttentionException;
import org.sparseattention.io.NpyWriter;
import org.sparseattention.plan.InputShape;
import org.sparseattention.plan.JobSettings;
import org.sparseattention.plan.Plan;
import org.sparseattention.plan.Planner;

/** The merged files the driver writes from committed shards, through either of its two copy paths. */
class OutputFilesTest {
    private static final int B = 2;
    private static final int L = 50;
    private static final int H = 2;
    private static final int D = 3;
    private static final int SHARD_ROWS = 16;

    /** Hadoop's local file system without its checksums, as the job writes its output through. */
    private static FileSystem rawLocal() throws IOException {
        return ((LocalFileSystem) FileSystem.getLocal(new Configuration())).getRawFileSystem();
    }

    private static Plan plan(Path dir) {
        JobSettings settings = new JobSettings("q.npy", "k.npy", "v.npy", dir.toString(), H, "local", 4, 4, 1, 1,
                Double.NaN, 0, 64, 64, SHARD_ROWS, true, true, false, false);
        return Planner.plan(settings, new InputShape(B, L, H * D, H), 2);
    }

    /** Output value of batch item b, row r, feature f; a shard's log-sum-exp of head h, row r. */
    private static float output(int b, int r, int f) {
        return b * 10_000 + r * 10 + f + 0.25f;
    }

    private static float lse(int b, int h, int r) {
        return -(b * 1000 + h * 100 + r) - 0.5f;
    }

    /** Writes every shard as the job's output format does: {@code [rows, H * D]} and {@code [H, rows]}. */
    private static void writeShards(Path dir) throws IOException {
        Files.createDirectories(dir);
        for (int b = 0; b < B; b++) {
            for (int start = 0; start < L; start += SHARD_ROWS) {
                int rows = Math.min(SHARD_ROWS, L - start);
                float[] out = new float[rows * H * D];
                float[] lse = new float[H * rows];
                for (int r = 0; r < rows; r++) {
                    for (int f = 0; f < H * D; f++) {
                        out[r * H * D + f] = output(b, start + r, f);
                    }
                    for (int h = 0; h < H; h++) {
                        lse[h * rows + r] = lse(b, h, start + r);
                    }
                }
                try (OutputStream stream = Files.newOutputStream(dir.resolve(ShardResult.fileName("output", b, start)))) {
                    NpyWriter.write(stream, new long[] {rows, H * D}, out);
                }
                try (OutputStream stream = Files.newOutputStream(dir.resolve(ShardResult.fileName("lse", b, start)))) {
                    NpyWriter.write(stream, new long[] {H, rows}, lse);
                }
            }
        }
    }

    /** Returns the float32 data of an {@code .npy} file whose header is {@code header} long. */
    private static float[] data(Path file, int headerLength) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        float[] values = new float[(bytes.length - headerLength) / 4];
        ByteBuffer.wrap(bytes, headerLength, bytes.length - headerLength).order(ByteOrder.LITTLE_ENDIAN)
                .asFloatBuffer().get(values);
        return values;
    }

    private static void checkMerged(Path dir) throws IOException {
        float[] expectedOutput = new float[B * L * H * D];
        float[] expectedLse = new float[B * H * L];
        for (int b = 0; b < B; b++) {
            for (int r = 0; r < L; r++) {
                for (int f = 0; f < H * D; f++) {
                    expectedOutput[(b * L + r) * H * D + f] = output(b, r, f);
                }
                for (int h = 0; h < H; h++) {
                    expectedLse[(b * H + h) * L + r] = lse(b, h, r);
                }
            }
        }
        int outputHeader = NpyWriter.header(NpyWriter.FLOAT32, new long[] {B, L, H * D}).length;
        int lseHeader = NpyWriter.header(NpyWriter.FLOAT32, new long[] {B, H, L}).length;
        assertArrayEquals(expectedOutput, data(dir.resolve(OutputFiles.MERGED), outputHeader));
        assertArrayEquals(expectedLse, data(dir.resolve(OutputFiles.MERGED_LSE), lseHeader));
        assertTrue(Files.exists(dir.resolve(OutputFiles.SUCCESS)));
    }

    @Test
    void localFilesAreMergedBetweenChannels(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("out");
        writeShards(dir);
        FileSystem raw = rawLocal();
        assertTrue(raw instanceof RawLocalFileSystem, "the test takes the channels' path");
        OutputFiles.finish(raw, new org.apache.hadoop.fs.Path(dir.toUri()), plan(dir));
        checkMerged(dir);
    }

    @Test
    void otherFileSystemsMergeThroughTheirStreamsToTheSameBytes(@TempDir Path tmp) throws IOException {
        Path local = tmp.resolve("local");
        Path streamed = tmp.resolve("streamed");
        writeShards(local);
        writeShards(streamed);
        FileSystem raw = rawLocal();
        // The checksummed local file system is not a RawLocalFileSystem: it takes the streams' path.
        FileSystem checksummed = FileSystem.getLocal(new Configuration());
        assertFalse(checksummed instanceof RawLocalFileSystem);
        OutputFiles.finish(raw, new org.apache.hadoop.fs.Path(local.toUri()), plan(local));
        OutputFiles.finish(checksummed, new org.apache.hadoop.fs.Path(streamed.toUri()), plan(streamed));
        checkMerged(streamed);
        for (String name : new String[] {OutputFiles.MERGED, OutputFiles.MERGED_LSE}) {
            assertArrayEquals(Files.readAllBytes(local.resolve(name)), Files.readAllBytes(streamed.resolve(name)), name);
        }
    }

    @Test
    void aShortShardFailsTheMergeOnEitherPath(@TempDir Path tmp) throws IOException {
        FileSystem raw = rawLocal();
        FileSystem checksummed = FileSystem.getLocal(new Configuration());
        for (FileSystem fs : new FileSystem[] {raw, checksummed}) {
            Path dir = tmp.resolve(fs == raw ? "raw" : "checksummed");
            writeShards(dir);
            Path shard = dir.resolve(ShardResult.fileName("output", 1, SHARD_ROWS));
            try (FileChannel channel = FileChannel.open(shard, StandardOpenOption.WRITE)) {
                channel.truncate(channel.size() - 8);
            }
            SparseAttentionException e = assertThrows(SparseAttentionException.class,
                    () -> OutputFiles.finish(fs, new org.apache.hadoop.fs.Path(dir.toUri()), plan(dir)));
            assertTrue(e.getMessage().contains("8 bytes early") && e.getMessage().contains(shard.getFileName().toString()),
                    e.getMessage());
            assertFalse(Files.exists(dir.resolve(OutputFiles.SUCCESS)), Arrays.toString(dir.toFile().list()));
        }
    }
}
