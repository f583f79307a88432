package org.sparseattention.job;

import java.io.IOException;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.UnsupportedFileSystemException;
import org.apache.hadoop.util.ShutdownHookManager;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;
import org.sparseattention.io.HadoopStorage;

/**
 * Where a run writes: a hidden staging directory beside the output, renamed into place only when
 * complete. A failed run deletes its staging directory and never touches an existing output; a
 * finished output that cannot be put in place stays in its staging directory.
 */
final class OutputLocation {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(OutputLocation.class);
    private static final String STAGING = ".staging-";
    /** Bytes the staging directory's name adds to the output's: a leading dot, the suffix and a UUID. */
    static final int STAGING_EXTRA = 1 + STAGING.length() + 36;
    private final FileSystem fs;
    private final Path out;
    private final Path staging;
    /**
     * The nearest ancestor of the output that existed before the run: the directories below it that
     * are still empty go with a discarded run.
     */
    private final Path existingAncestor;
    /** Whether the output existed when the job started: only then may {@code --overwrite} replace it. */
    private final boolean existedAtStart;
    private final Configuration configuration;
    /** The file system's {@code FileContext} for renames, made at the first; null before, or where it has none. */
    private FileContext context;
    private boolean noContext;
    /** Set while the staging directory holds a finished output that {@link #promote} could not put in place. */
    private boolean keepStaging;
    /** Set once the output is in place. */
    private boolean promoted;
    /** Set when the JVM began to shut down (Ctrl-C, SIGTERM) before the output was in place. */
    private boolean abandoned;
    private final Runnable onShutdown = this::shutDown;
    /**
     * Before Spark stops (its hook runs at {@link FileSystem#SHUTDOWN_HOOK_PRIORITY} + 30), the
     * logging of Spark and of Hadoop's output committer is turned off: stopping under running
     * tasks, Spark logs their rejected status updates and vanished broadcasts with traces, and the
     * committer the files those tasks still write as it aborts, while {@link #onShutdown} says in
     * one line what became of --out (and deletes what they wrote).
     */
    private static final Runnable QUIET_SPARK = SparkSetup::quietSpark;

    /** For {@code --out} {@code outUri}, which existed when the run checked it or not ({@code existedAtStart}). */
    OutputLocation(String outUri, Configuration configuration, boolean existedAtStart) throws IOException {
        Path path = new Path(outUri);
        this.configuration = configuration;
        this.fs = HadoopStorage.raw(path.getFileSystem(configuration));
        this.out = fs.makeQualified(path);
        if (out.getParent() == null) {
            throw new InvalidInputException("--out " + outUri + ": the output cannot be a file system root");
        }
        this.staging = new Path(out.getParent(), stagingPrefix(out) + UUID.randomUUID());
        this.existingAncestor = nearestExisting(out.getParent());
        this.existedAtStart = existedAtStart;
    }

    /** Returns how the names of the staging directories of runs on {@code out} begin. */
    static String stagingPrefix(Path out) {
        return "." + out.getName() + STAGING;
    }

    /** Returns the nearest of {@code dir} and its ancestors that exists now; {@code dir} if that is unknown. */
    private Path nearestExisting(Path dir) {
        try {
            return HadoopStorage.nearestExisting(fs, dir);
        } catch (IOException e) {
            // Unknown: none is deleted.
            return dir;
        }
    }

    /**
     * Until {@link #release}: should the JVM shut down (Ctrl-C, SIGTERM) before the output is in
     * place, the staging directory is deleted once Spark has stopped and before the file systems
     * close; should it shut down while {@link #promote} runs, the output is first put in place
     * whole (or the previous one restored).
     */
    void guard() {
        // Longer than Hadoop's default of 30 s: a rename on an object store copies.
        ShutdownHookManager.get().addShutdownHook(onShutdown, FileSystem.SHUTDOWN_HOOK_PRIORITY + 5, 10, TimeUnit.MINUTES);
        guarded = true;
        ShutdownHookManager.get().addShutdownHook(QUIET_SPARK, FileSystem.SHUTDOWN_HOOK_PRIORITY + 35);
    }

    /** Set once {@link #guard} has registered the shutdown hook (a shutdown already begun refuses it). */
    private volatile boolean guarded;

    /** Ends {@link #guard}. */
    void release() {
        try {
            ShutdownHookManager.get().removeShutdownHook(QUIET_SPARK);
            ShutdownHookManager.get().removeShutdownHook(onShutdown);
        } catch (IllegalStateException shuttingDown) {
            // The hook, if it was registered, runs or has run, and says what became of --out.
            hookReports |= guarded;
        }
    }

    /** Set once a shutdown hook of a guarded location runs, or has run: it prints what became of --out. */
    private static volatile boolean hookReports;

    /** Whether a shutdown hook reports what became of an interrupted run's --out (the run's own error need not). */
    static boolean hookReports() {
        return hookReports;
    }

    /**
     * Whether the JVM began to shut down before the output was in place, and before a finished
     * output that could not be put in place (whose error says where it is) was kept.
     */
    synchronized boolean interrupted() {
        return !keepStaging && (abandoned || !promoted && ShutdownHookManager.get().isShutdownInProgress());
    }

    /** The error of a run interrupted before its output was in place. */
    SparseAttentionException interruptedError(Throwable cause) {
        return new SparseAttentionException("interrupted: --out " + out + asItWas(), cause);
    }

    /** What an interrupted run left of --out: it as it was, or, where there was none, none. */
    private String asItWas() {
        return existedAtStart ? " is as it was" : " was not created";
    }

    /** The shutdown hook's work (see {@link #guard}). */
    synchronized void shutDown() {
        // Said here, whatever the run's main thread does by then.
        hookReports = true;
        if (promoted) {
            System.err.println("interrupted after the run had finished: --out " + out + " holds its new, complete"
                    + " output");
            return;
        }
        abandoned = true;
        if (keepStaging) {
            System.err.println("interrupted: the new output is complete in " + staging + " (see the error above)");
            return;
        }
        boolean deleted = deleteStagingSettled();
        System.err.println("interrupted: --out " + out + asItWas() + "; " + (deleted ? "the unfinished output was deleted"
                : "the unfinished output is in " + staging));
    }

    /**
     * Deletes the staging directory as {@link #deleteStaging} does, and again while it comes back:
     * tasks still running (local mode lets them end when Spark stops; a failed job's other tasks end
     * after it) may still create their directories in it. Watches until none has come back for half
     * a second, at most {@link #SETTLE_NANOS}; returns whether it is gone.
     */
    private boolean deleteStagingSettled() {
        boolean deleted = deleteStaging();
        long quiet = System.nanoTime();
        for (long until = quiet + SETTLE_NANOS; deleted && System.nanoTime() < until; ) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            boolean back;
            try {
                back = fs.exists(staging);
            } catch (IOException e) {
                break;
            }
            if (back) {
                deleted = deleteStaging();
                quiet = System.nanoTime();
            } else if (System.nanoTime() - quiet > SETTLE_NANOS / 4) {
                break;
            }
        }
        return deleted;
    }

    /** How long {@link #deleteStagingSettled} watches for task directories coming back into the deleted staging directory. */
    private static final long SETTLE_NANOS = 2_000_000_000L;

    /** Deletes the staging directory, and then the parents of the output the run created, while they are empty. */
    private boolean deleteStaging() {
        try {
            if (!fs.delete(staging, true) && fs.exists(staging)) {
                return false;
            }
            HadoopStorage.deleteEmptyBelow(fs, out.getParent(), existingAncestor);
            return true;
        } catch (IOException e) {
            return !stagingExists();
        }
    }

    private boolean stagingExists() {
        try {
            return fs.exists(staging);
        } catch (IOException e) {
            return true;
        }
    }

    FileSystem fileSystem() {
        return fs;
    }

    Path staging() {
        return staging;
    }

    Path out() {
        return out;
    }

    /**
     * Moves the staging directory to the output. An existing output (allowed only with
     * {@code overwrite}, and only if it is still this tool's to replace) is first moved aside and
     * deleted only after the new one is in place. If the new output cannot be put in place, the
     * previous one is moved back and the new one stays complete in the staging directory, which
     * the exception names and {@link #discard} then keeps. Returns where what is left of the
     * previous output lies when it could not be deleted entirely (permissions, say), else null.
     */
    synchronized Path promote(boolean overwrite) throws IOException {
        return promote(overwrite, () -> { });
    }

    /** Work on the finished staging directory before it is put in place (the merged files, the manifest). */
    interface Finishing {
        void run() throws IOException;
    }

    /**
     * Runs {@code finishing}, then {@link #promote(boolean)}, with a shutdown waiting for both: the
     * staging directory is not deleted under the files being written into it.
     */
    synchronized Path promote(boolean overwrite, Finishing finishing) throws IOException {
        if (abandoned) {
            throw interruptedError(null);
        }
        finishing.run();
        // From here on the staging directory holds a finished output: every failure below names it.
        keepStaging = true;
        Path backup = null;
        try {
            if (fs.exists(out)) {
                if (!overwrite || !existedAtStart) {
                    throw appeared(overwrite, null);
                }
                // Checked again: files written into it while the job ran would be deleted with it.
                String refused = InputFiles.whyNotReplaceable(fs, out);
                if (refused != null) {
                    throw new InvalidInputException("--out " + out + " changed while the job ran and now " + refused
                            + ": not replacing it. The new output is complete in " + staging);
                }
                backup = HadoopStorage.asideOf(out);
                if (!fs.rename(out, backup)) {
                    throw new SparseAttentionException("could not move the previous output " + out + " aside to " + backup
                            + "; it is unchanged. The new output is complete in " + staging);
                }
            }
        } catch (IOException e) {
            throw new SparseAttentionException("could not check or move aside the previous output " + out + " ("
                    + e.getMessage() + "). The new output is complete in " + staging, e);
        }
        try {
            renameOnlyIfAbsent(staging, out);
        } catch (FileAlreadyExistsException appeared) {
            if (backup != null) {
                throw restoreAndReport(backup, appeared);
            }
            throw appeared(overwrite, appeared);
        } catch (IOException failure) {
            throw restoreAndReport(backup, failure);
        }
        keepStaging = false;
        promoted = true;
        if (backup != null) {
            try {
                // Hadoop's local delete says false (and logs each file) where it could not delete.
                if (!fs.delete(backup, true) && fs.exists(backup)) {
                    return backup;
                }
            } catch (IOException e) {
                LOG.warn("could not delete the previous output from " + backup, e);
                return backup;
            }
        }
        return null;
    }

    /** Returns the error for an output that appeared while the job ran, with {@code cause} where one is known. */
    private InvalidInputException appeared(boolean overwrite, Throwable cause) {
        String refused;
        try {
            refused = overwrite ? null : InputFiles.whyNotReplaceable(fs, out);
        } catch (IOException e) {
            refused = null;
        }
        // --overwrite is suggested only where it would replace what appeared.
        return new InvalidInputException("--out " + out + " appeared while the job ran" + (overwrite
                ? " (another run's output?): not replacing it." : refused != null ? " and " + refused
                + ": not replacing it." : "; pass --overwrite to replace it.")
                + " The new output is complete in " + staging, cause);
    }

    /**
     * Puts the previous output ({@code backup}, or none) back where it can, and returns the error
     * that names where the new output and the previous one are.
     */
    private SparseAttentionException restoreAndReport(Path backup, IOException failure) {
        String previous = "";
        if (backup != null) {
            boolean restored;
            try {
                restored = !fs.exists(out) && fs.rename(backup, out);
            } catch (IOException e) {
                restored = false;
            }
            previous = restored ? "; the previous output is back in place" : "; the previous output is complete in " + backup;
        }
        return new SparseAttentionException("could not move the finished output to " + out + " (" + failure.getMessage()
                + "): it is complete in " + staging + previous, failure);
    }

    /**
     * Renames {@code from} to {@code to}, failing if {@code to} exists: {@code FileSystem.rename}
     * would move {@code from} inside an existing directory and report success. Through the file
     * system's {@code FileContext} where it has one (HDFS checks and renames in one step).
     */
    private void renameOnlyIfAbsent(Path from, Path to) throws IOException {
        if (context == null && !noContext) {
            try {
                context = FileContext.getFileContext(fs.getUri(), configuration);
            } catch (UnsupportedFileSystemException e) {
                noContext = true;
            }
        }
        if (context == null) {
            if (fs.exists(to)) {
                throw new FileAlreadyExistsException(to + " exists");
            }
            if (!fs.rename(from, to)) {
                throw new IOException("the file system refused to rename " + from + " to " + to);
            }
            return;
        }
        context.rename(from, to, Options.Rename.NONE);
    }

    /** Deletes the staging directory, if any, unless it holds a finished output that could not be put in place. */
    synchronized void discard() {
        // A leftover hidden staging directory holds no user data, but takes room: named when it stays
        // (an interrupted run's shutdown hook says it itself).
        if (!keepStaging && !deleteStagingSettled() && !abandoned) {
            System.err.println("warning: the unfinished output in " + staging + " could not be deleted entirely:"
                    + " remove it yourself");
        }
    }
}
