package org.sparseattention.job;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.sparseattention.errors.SparseAttentionException;
import org.sparseattention.io.NpyWriter;
import org.sparseattention.plan.InputShape;
import org.sparseattention.plan.JobSettings;
import org.sparseattention.plan.Plan;
import org.sparseattention.plan.Planner;

/** The driver's last steps inside the staging directory: merged files, manifest, {@code _SUCCESS}. */
final class OutputFiles {
    static final String MANIFEST = "manifest.json";
    static final String MERGED = "output.npy";
    static final String MERGED_LSE = "lse.npy";
    static final String SUCCESS = "_SUCCESS";
    /** The manifest's {@code format}: marks a directory this tool may replace with --overwrite. */
    static final String FORMAT = "sparse-attention-output";
    /** The names of the files an output holds: shards (see {@link ShardResult#fileName}) and the above. */
    private static final Pattern OWN_NAME = Pattern.compile("(output|lse)-b\\d{5,}-r\\d{10,}\\.npy|"
            + Pattern.quote(MANIFEST) + "|" + Pattern.quote(MERGED) + "|" + Pattern.quote(MERGED_LSE) + "|"
            + Pattern.quote(SUCCESS));

    private OutputFiles() {
    }

    /** A shard as the manifest lists it. */
    record Shard(int batch, int rowStart, int rowEnd) {
    }

    /** Returns shard {@code id} (numbered across batch items, as {@code Planner.shard} numbers them). */
    static Shard shard(InputShape shape, JobSettings settings, int id) {
        int perBatch = Planner.shardsPerBatch(shape, settings);
        long rowStart = (long) (id % perBatch) * settings.shardRows();
        return new Shard(id / perBatch, (int) rowStart,
                (int) Math.min(shape.seqLen(), rowStart + settings.shardRows()));
    }

    /** Returns every shard, in id order. */
    static List<Shard> shards(InputShape shape, JobSettings settings) {
        List<Shard> shards = new ArrayList<>();
        for (int id = 0; id < shape.batch() * Planner.shardsPerBatch(shape, settings); id++) {
            shards.add(shard(shape, settings, id));
        }
        return shards;
    }

    /** Returns whether {@code name} is one of the files this tool writes into an output. */
    static boolean isOwnName(String name) {
        return OWN_NAME.matcher(name).matches();
    }

    /** Checks that every shard was committed, writes the merged files if asked, the manifest, then {@code _SUCCESS}. */
    static void finish(FileSystem fs, Path dir, Plan plan) throws IOException {
        JobSettings settings = plan.settings();
        InputShape shape = plan.shape();
        List<Shard> shards = shards(shape, settings);
        // One listing, not one existence check per shard (a round trip each on a remote store).
        Set<String> committed = new HashSet<>();
        for (FileStatus status : fs.listStatus(dir)) {
            committed.add(status.getPath().getName());
        }
        for (Shard shard : shards) {
            String name = ShardResult.fileName("output", shard.batch(), shard.rowStart());
            if (!committed.contains(name)) {
                // Most likely written where the driver cannot see it: a local path on a cluster's executors.
                throw new SparseAttentionException("shard " + name + " of --out " + settings.out() + " is missing"
                        + " after the job committed" + ("file".equals(dir.toUri().getScheme()) ? " (on a cluster, --out must be"
                        + " a location the driver and every executor share, such as HDFS or a shared mount)" : ""));
            }
        }
        long[] shape3 = {shape.batch(), shape.seqLen(), shape.features()};
        if (settings.merge()) {
            try (MergedFile out = MergedFile.create(fs, new Path(dir, MERGED))) {
                out.write(NpyWriter.header(NpyWriter.FLOAT32, shape3));
                for (Shard shard : shards) {
                    int rows = shard.rowEnd() - shard.rowStart();
                    out.append(new Path(dir, ShardResult.fileName("output", shard.batch(), shard.rowStart())),
                            dataStart(rows, shape.features()), (long) rows * shape.features() * 4);
                }
            }
        }
        if (settings.lse() && settings.merge()) {
            try (MergedFile out = MergedFile.create(fs, new Path(dir, MERGED_LSE))) {
                out.write(NpyWriter.header(NpyWriter.FLOAT32,
                        new long[] {shape.batch(), shape.heads(), shape.seqLen()}));
                for (int b = 0; b < shape.batch(); b++) {
                    for (int h = 0; h < shape.heads(); h++) {
                        for (Shard shard : shards) {
                            if (shard.batch() != b) {
                                continue;
                            }
                            int rows = shard.rowEnd() - shard.rowStart();
                            out.append(new Path(dir, ShardResult.fileName("lse", b, shard.rowStart())),
                                    dataStart(shape.heads(), rows) + (long) h * rows * 4, (long) rows * 4);
                        }
                    }
                }
            }
        }
        try (OutputStream out = fs.create(new Path(dir, MANIFEST), false)) {
            out.write(manifest(plan, shards));
        }
        fs.create(new Path(dir, SUCCESS), false).close();
    }

    /** Returns where the data of a shard of {@code [rows, columns]} begins: after the header its writer gave it. */
    private static long dataStart(int rows, int columns) {
        return NpyWriter.header(NpyWriter.FLOAT32, new long[] {rows, columns}).length;
    }

    /**
     * One merged file, written from the shards' data. On the local file system the shards' bytes
     * go from file to file inside the operating system ({@code FileChannel.transferTo}); a merged
     * output of 512 MB took 0.8-1.3 s through the file system's streams after a job, which copy
     * every byte into and out of the JVM twice each. Other file systems use their streams.
     */
    private abstract static class MergedFile implements AutoCloseable {
        static MergedFile create(FileSystem fs, Path path) throws IOException {
            return fs instanceof RawLocalFileSystem local ? new LocalMergedFile(local, path)
                    : new StreamMergedFile(fs, path);
        }

        abstract void write(byte[] bytes) throws IOException;

        /** Appends {@code length} bytes of shard {@code shard}, from byte {@code from}. */
        abstract void append(Path shard, long from, long length) throws IOException;

        @Override
        public abstract void close() throws IOException;

        static SparseAttentionException endedEarly(Path shard, long left) {
            return new SparseAttentionException("shard " + shard + " ended " + left + " bytes early");
        }
    }

    private static final class StreamMergedFile extends MergedFile {
        private final FileSystem fs;
        private final OutputStream out;
        private final byte[] buffer = new byte[1 << 20];

        StreamMergedFile(FileSystem fs, Path path) throws IOException {
            this.fs = fs;
            this.out = fs.create(path, false);
        }

        @Override
        void write(byte[] bytes) throws IOException {
            out.write(bytes);
        }

        @Override
        void append(Path shard, long from, long length) throws IOException {
            try (FSDataInputStream in = fs.open(shard)) {
                in.seek(from);
                long left = length;
                while (left > 0) {
                    int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
                    if (n < 0) {
                        throw endedEarly(shard, left);
                    }
                    out.write(buffer, 0, n);
                    left -= n;
                }
            }
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }

    private static final class LocalMergedFile extends MergedFile {
        private final RawLocalFileSystem fs;
        private final FileChannel out;

        LocalMergedFile(RawLocalFileSystem fs, Path path) throws IOException {
            this.fs = fs;
            this.out = FileChannel.open(fs.pathToFile(path).toPath(), StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE);
        }

        @Override
        void write(byte[] bytes) throws IOException {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                out.write(buffer);
            }
        }

        @Override
        void append(Path shard, long from, long length) throws IOException {
            try (FileChannel in = FileChannel.open(fs.pathToFile(shard).toPath(), StandardOpenOption.READ)) {
                long done = 0;
                while (done < length) {
                    long n = in.transferTo(from + done, length - done, out);
                    if (n <= 0) {
                        throw endedEarly(shard, length - done);
                    }
                    done += n;
                }
            }
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }

    private static byte[] manifest(Plan plan, List<Shard> shards) throws IOException {
        JobSettings s = plan.settings();
        InputShape shape = plan.shape();
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("format", FORMAT);
        root.put("version", 1);
        root.put("shape", List.of(shape.batch(), shape.seqLen(), shape.features()));
        root.put("dtype", NpyWriter.FLOAT32);
        root.put("heads", shape.heads());
        root.put("head_dim", shape.headDim());
        Map<String, Object> pattern = new LinkedHashMap<>();
        pattern.put("mode", s.mode());
        pattern.put("local_ctx", s.localCtx());
        pattern.put("block_size", s.blockSize());
        pattern.put("num_verts", s.numVerts());
        pattern.put("vertsize", s.vertsize());
        pattern.put("scale", (double) s.scaleFor(shape.headDim()));
        root.put("pattern", pattern);
        // As URIs (RFC 3986, percent-encoded), which any reader can parse: the locations themselves are
        // Hadoop paths, whose text is not encoded ('file:/a b/q.npy').
        Map<String, Object> inputs = new LinkedHashMap<>();
        inputs.put("q", new org.apache.hadoop.fs.Path(s.q()).toUri().toASCIIString());
        inputs.put("k", new org.apache.hadoop.fs.Path(s.k()).toUri().toASCIIString());
        inputs.put("v", new org.apache.hadoop.fs.Path(s.v()).toUri().toASCIIString());
        root.put("inputs", inputs);
        root.put("max_key_blocks", s.maxKeyBlocks());
        root.put("shard_rows", s.shardRows());
        root.put("allow_nonfinite", s.allowNonfinite());
        root.put("tool", org.sparseattention.SparseAttention.VERSION);
        List<Map<String, Object>> list = new ArrayList<>();
        for (Shard shard : shards) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("batch", shard.batch());
            entry.put("row_start", shard.rowStart());
            entry.put("row_end", shard.rowEnd());
            entry.put("file", ShardResult.fileName("output", shard.batch(), shard.rowStart()));
            if (s.lse()) {
                entry.put("lse_file", ShardResult.fileName("lse", shard.batch(), shard.rowStart()));
            }
            list.add(entry);
        }
        root.put("shards", list);
        root.put("merged", s.merge() ? MERGED : null);
        root.put("merged_lse", s.lse() && s.merge() ? MERGED_LSE : null);
        return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(root);
    }
}
