package org.sparseattention.job;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;
import org.sparseattention.io.HadoopStorage;
import org.sparseattention.io.NpyWriter;
import org.sparseattention.io.Storage;
import org.sparseattention.plan.InputShape;
import org.sparseattention.plan.JobSettings;
import org.sparseattention.plan.Plan;
import org.sparseattention.plan.Planner;
import org.sparseattention.plan.WorkUnit;
import scala.Tuple2;

/**
 * Runs a small job through the tasks' own code, without Spark, once per JVM before the first task
 * computes: planning, shuffled-unit tasks cutting pieces, shard tasks computing in place and
 * merging, on inputs of 4 MB each in a temporary local directory, read through the Hadoop file
 * system as the job reads its own. The Vector API runs orders of magnitude slower until C2 has
 * compiled its call sites, and C2 compiles for the branches and loops it has seen run: a warm-up
 * that missed a path the job takes (rows read out of order, units too small or too large to pack
 * their keys, rows merged from several partials) sent the compiled kernel back to the interpreter
 * in the middle of the job, several times per run, each time for the second or so C2 took to
 * compile it again on a busy core. The job is `local+strided` with D=64 whatever the run's own
 * pattern: paths only other patterns take (a pair-by-pair mask, other head dimensions) are still
 * compiled during their first tasks. A warm-up that fails only logs why: the job runs without it.
 */
final class WarmUp {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(WarmUp.class);
    private static final int SEQ_LEN = 2048;
    private static final int HEADS = 8;
    private static final int HEAD_DIM = 64;
    private static final int ROUNDS = 4;

    private static boolean done;
    /** The thread running the warm-up, while it runs. */
    private static volatile Thread running;

    private WarmUp() {
    }

    /** Whether the calling thread is running the warm-up (whose tasks log nothing and inject no faults). */
    static boolean onThisThread() {
        return running == Thread.currentThread();
    }

    /** Runs the warm-up unless it ran already (or is running on this thread); other callers wait for it. */
    static synchronized void run() {
        if (done || running != null) {
            return;
        }
        running = Thread.currentThread();
        try {
            runIn(Path.of(System.getProperty("java.io.tmpdir")));
        } finally {
            running = null;
            // A task killed during the warm-up (its reads then fail) leaves it to the next task.
            done = !Thread.currentThread().isInterrupted();
        }
    }

    /**
     * Runs the warm-up's job on inputs written to a new directory under {@code parent}, deleted
     * afterwards, and returns the allowed pairs its last round merged; or logs why it failed and
     * returns -1.
     */
    static long runIn(Path parent) {
        Path dir = null;
        try {
            long started = System.nanoTime();
            ProcessDirs.deleteLeftBehind(parent, PREFIX);
            dir = ProcessDirs.create(parent, PREFIX);
            // Registered before its files, so deleted after them should the JVM exit mid-warm-up.
            dir.toFile().deleteOnExit();
            long pairs = job(dir, new HadoopStorage());
            LOG.info(String.format(Locale.ROOT, "warm-up finished in %.2f s", (System.nanoTime() - started) / 1e9));
            return pairs;
        } catch (IOException | RuntimeException e) {
            // The JVM exiting under it (a command that failed as it started, a signal) deletes its files.
            if (!exiting()) {
                LOG.warn("warm-up skipped, the first tasks will run slower: " + e);
            }
            return -1;
        } finally {
            if (dir != null) {
                try (Stream<Path> files = Files.list(dir)) {
                    for (Path file : files.toList()) {
                        Files.deleteIfExists(file);
                    }
                    Files.deleteIfExists(dir);
                } catch (IOException e) {
                    if (!exiting()) {
                        LOG.warn("could not delete the warm-up's files in " + dir + ": " + e);
                    }
                }
            }
        }
    }

    /** Whether the JVM is shutting down: its shutdown hooks have begun, and deletes its files at the end. */
    private static boolean exiting() {
        return org.apache.hadoop.util.ShutdownHookManager.get().isShutdownInProgress();
    }

    /** How a warm-up's directory is named: this prefix, the process id, '-', a random part. */
    static final String PREFIX = "sparse-attention-warm-up-";

    /** The warm-up job's settings: 8 heads of 64, local+strided with l=256, blocks of 64. */
    static JobSettings settings(String q, String k, String v, String out) {
        // Shards of 500 rows (five, enough for two slots to compute in place) cut blocks of 64, so that
        // some units hold a single straddling block.
        return new JobSettings(q, k, v, out, HEADS, "local+strided", 256, 64, 1, 1, Double.NaN, 0, 64, 256, 500,
                false, false, false, false);
    }

    static InputShape shape() {
        return new InputShape(1, SEQ_LEN, HEADS * HEAD_DIM, HEADS);
    }

    private static long job(Path dir, Storage storage) throws IOException {
        int features = HEADS * HEAD_DIM;
        String[] uris = new String[3];
        for (int t = 0; t < 3; t++) {
            Path file = dir.resolve("qkv".charAt(t) + ".npy");
            file.toFile().deleteOnExit();
            uris[t] = file.toUri().toString();
            float[] values = new float[SEQ_LEN * features];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) Math.sin(i * 0.37 + t);
            }
            try (OutputStream out = storage.create(uris[t])) {
                NpyWriter.write(out, new long[] {SEQ_LEN, features}, values);
            }
        }
        JobSettings settings = settings(uris[0], uris[1], uris[2], dir.resolve("out").toUri().toString());
        InputShape shape = shape();
        Plan plan = Planner.plan(settings, shape, 2);
        LongAdder pairs = new LongAdder();
        for (int round = 0; round < ROUNDS; round++) {
            pairs.reset();
            // Each shard's pieces in merge order, as the shuffle sorts them.
            TreeMap<PieceKey, Piece> pieces = new TreeMap<>();
            for (List<WorkUnit> partition : plan.partitions()) {
                try (UnitTask task = new UnitTask(settings, shape, partition, storage, TaskTimes.NONE)) {
                    while (task.hasNext()) {
                        Tuple2<PieceKey, Piece> piece = task.next();
                        pieces.put(piece._1(), piece._2());
                    }
                }
            }
            for (int shard : plan.shardOrder()) {
                ShardTask.run(shard, plan.inPlace().get(shard), ofShard(pieces, shard), settings, shape, storage,
                        pairs::add, TaskTimes.NONE);
            }
        }
        return pairs.sum();
    }

    /** Returns the pieces of {@code shard} in {@code pieces}, in merge order, as the shuffle hands them over. */
    static Iterator<Tuple2<PieceKey, Piece>> ofShard(TreeMap<PieceKey, Piece> pieces, int shard) {
        return pieces.subMap(PieceKey.first(shard), PieceKey.first(shard + 1)).entrySet().stream()
                .map(piece -> new Tuple2<>(piece.getKey(), piece.getValue())).iterator();
    }
}
