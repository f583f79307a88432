package org.sparseattention.job;

import java.io.IOException;
import java.io.OutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.mapreduce.RecordWriter;
import org.apache.hadoop.mapreduce.TaskAttemptContext;
import org.apache.hadoop.mapreduce.lib.output.FileOutputFormat;
import org.apache.hadoop.mapreduce.lib.output.PathOutputCommitter;
import org.sparseattention.io.HadoopStorage;
import org.sparseattention.io.NpyWriter;

/**
 * Writes each shard as {@code .npy} files into the task attempt's work directory, which the file
 * system's output committer ({@link PathOutputCommitter}: Hadoop's {@code FileOutputCommitter} by
 * default, the manifest committer on {@code gs://} and {@code abfs://}, S3A's committers where
 * configured) promotes on task commit and job commit: a failed or killed attempt leaves nothing
 * in the output.
 */
public final class ShardOutputFormat extends FileOutputFormat<Integer, ShardResult> {
    /** Configuration key: also write each shard's log-sum-exp. */
    static final String WRITE_LSE = "sparseattention.output.lse";
    /** Configuration key: the number of heads, the first dimension of a log-sum-exp shard. */
    static final String HEADS = "sparseattention.output.heads";

    @Override
    public RecordWriter<Integer, ShardResult> getRecordWriter(TaskAttemptContext context) throws IOException {
        Path work = ((PathOutputCommitter) getOutputCommitter(context)).getWorkPath();
        FileSystem fs = HadoopStorage.raw(work.getFileSystem(context.getConfiguration()));
        boolean writeLse = context.getConfiguration().getBoolean(WRITE_LSE, false);
        int heads = context.getConfiguration().getInt(HEADS, 1);
        return new RecordWriter<>() {
            @Override
            public void write(Integer shard, ShardResult result) throws IOException {
                long started = System.nanoTime();
                int features = result.output().length / result.rows();
                try (OutputStream out = fs.create(new Path(work, result.fileName("output")), false)) {
                    NpyWriter.write(out, new long[] {result.rows(), features}, result.output());
                }
                if (writeLse) {
                    try (OutputStream out = fs.create(new Path(work, result.fileName("lse")), false)) {
                        NpyWriter.write(out, new long[] {heads, result.rows()}, result.logSumExp());
                    }
                }
                TaskTimes.addWriting(System.nanoTime() - started);
            }

            @Override
            public void close(TaskAttemptContext ignored) {
            }
        };
    }
}
