package org.sparseattention.io;

import java.io.BufferedOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.FSError;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.security.AccessControlException;
import org.apache.hadoop.util.ShutdownHookManager;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;

/**
 * Files written whole or not at all, through a {@link HadoopStorage}: each is written under a
 * hidden name beside it, and all are then moved into place together, the files they replace moved
 * aside and put back should any move fail. Hadoop's file systems rename one file at a time, and
 * Spark's committer protocol is for a job's output directory, not for a command's single files.
 */
public final class WholeFiles {
    private final HadoopStorage storage;

    private WholeFiles(HadoopStorage storage) {
        this.storage = storage;
    }

    /** Returns whole-file writes through {@code storage}. */
    public static WholeFiles on(HadoopStorage storage) {
        return new WholeFiles(storage);
    }

    /** Returns the hidden name beside {@code target} that {@link #stage} writes it under. */
    private static Path stagedName(Path target) {
        return HadoopStorage.besideAs(target, "." + target.getName() + PARTIAL);
    }

    private static final String PARTIAL = ".partial";

    /**
     * The longest name of a file {@link #writeWhole} writes: 255 bytes (what a name may have in
     * local file systems and HDFS) less what its staged name, or the name it is moved aside to, adds.
     */
    public static final int MAX_FILE_NAME_BYTES = 255 - Math.max(1 + PARTIAL.length(), HadoopStorage.ASIDE_EXTRA);

    /** Refuses a staged name of {@code target} already taken: not ours to delete. */
    private void checkStageFree(String option, String uri, FileSystem fs, Path target) throws IOException {
        Path staged = stagedName(target);
        boolean taken = "file".equals(staged.toUri().getScheme())
                // A link there that leads nowhere is in the way too.
                ? Files.exists(java.nio.file.Path.of(staged.toUri().getPath()), java.nio.file.LinkOption.NOFOLLOW_LINKS)
                : fs.exists(staged);
        if (taken) {
            throw inTheWay(option, uri, staged);
        }
    }

    /** A user's file, or what a killed run left (which then is safe to remove), at the staged name. */
    private static InvalidInputException inTheWay(String option, String uri, Path staged) {
        return new InvalidInputException(option + uri + ": " + staged + " is in the way of writing it (left by an"
                + " interrupted run?): remove it and run again");
    }

    /**
     * Writes files so that each appears whole or not at all: {@link #stage} gives a hidden name
     * beside the file ({@link HadoopStorage#target} of {@code uri}), created empty so that the JVM's exit deletes
     * it (Hadoop registers only files that exist) unless {@link #publish} renames it into place
     * first. {@code option} names the location in the messages.
     */
    Path stage(String option, String uri) throws IOException {
        Path target = storage.target(uri);
        FileSystem fs = storage.fileSystem(uri);
        checkStageFree(option, uri, fs, target);
        Path staged = stagedName(target);
        if ("file".equals(staged.toUri().getScheme())) {
            // Made only if absent, in one step: Hadoop's local create checks and then creates (two
            // commands at once could both take the name), and follows a link there that leads nowhere.
            if (!fs.mkdirs(staged.getParent())) {
                throw new IOException("could not make the directory " + staged.getParent());
            }
            try {
                Files.createFile(java.nio.file.Path.of(staged.toUri().getPath()));
            } catch (java.nio.file.FileAlreadyExistsException taken) {
                throw inTheWay(option, uri, staged);
            }
        } else {
            fs.create(staged, false).close();
        }
        fs.deleteOnExit(staged);
        return staged;
    }

    /**
     * Checks that a file may be written at {@code uri}: nothing is there, or a file that
     * {@code overwrite} allows replacing; never a directory. {@code option} names the location in
     * the messages.
     */
    private void checkReplaceable(String option, String uri, boolean overwrite) throws IOException {
        Path target = storage.path(option, uri);
        if ("file".equals(target.toUri().getScheme())) {
            java.nio.file.Path local = java.nio.file.Path.of(target.toUri().getPath());
            if (Files.isSymbolicLink(local) && !Files.exists(local)) {
                // Writing would replace the link itself, which the user may not mean.
                throw new InvalidInputException(option + uri + " is a symbolic link to " + HadoopStorage.danglingTarget(local)
                        + ": remove it or make what it points to");
            }
        }
        FileStatus status;
        try {
            status = storage.fileSystem(uri).getFileStatus(target);
        } catch (FileNotFoundException e) {
            return;
        } catch (IOException e) {
            throw HadoopStorage.refused(option + uri, e);
        }
        if (status.isDirectory()) {
            throw new InvalidInputException(option + uri + " is a directory: not replacing it, even with --overwrite");
        }
        if (!overwrite) {
            throw new InvalidInputException(option + uri + " already exists: pass --overwrite to replace it");
        }
    }

    /**
     * Checks before any work that {@link #writeWhole} may write a file at {@code uri}:
     * {@link #checkReplaceable}, no file in the way of its staged name, and
     * {@link HadoopStorage#checkCanWriteIn} the directory it will be written in.
     */
    public void checkWritable(String option, String uri, boolean overwrite) throws IOException {
        checkReplaceable(option, uri, overwrite);
        Path target = storage.target(uri);
        int nameBytes = target.getName().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        if (nameBytes > MAX_FILE_NAME_BYTES) {
            // The names made beside it would pass the file system's limit when the file is written.
            throw new InvalidInputException(option + uri + ": field 'name': expected a name of at most "
                    + MAX_FILE_NAME_BYTES + " bytes, got " + nameBytes + (target.equals(storage.path(uri)) ? ""
                    : " ('" + target.getName() + "', where a link leads)"));
        }
        checkStageFree(option, uri, storage.fileSystem(uri), target);
        HadoopStorage.checkCanWriteIn(option + uri, target.getParent());
    }

    /**
     * Moves files written at {@code staged} to (the {@link HadoopStorage#target}s of) {@code uris}, all or none:
     * the files there are first moved aside, and put back if any new one cannot take its place.
     * Without {@code overwrite}, a file found at any of {@code uris} (one that appeared since the
     * command checked) stops the move before anything is touched. Returns the files moved aside
     * that could not be deleted afterwards (permissions, say), which are left as they were.
     */
    List<Path> publish(List<Path> staged, String option, List<String> uris, boolean overwrite)
            throws IOException {
        FileSystem fs = storage.fileSystem(uris.get(0));
        List<Path> targets = new ArrayList<>();
        List<Path> asides = new ArrayList<>();
        for (String uri : uris) {
            Path target = storage.target(uri);
            FileStatus status;
            try {
                status = fs.getFileStatus(target);
            } catch (FileNotFoundException e) {
                status = null;
            }
            if (status != null && status.isDirectory()) {
                throw new InvalidInputException(option + uri + " is a directory: not replacing it with a file");
            }
            if (status != null && !overwrite) {
                throw new InvalidInputException(option + uri + " appeared while this command ran: not replacing it"
                        + " without --overwrite");
            }
            targets.add(target);
            asides.add(status == null ? null : HadoopStorage.asideOf(target));
        }
        int movedAside = 0;
        int placed = 0;
        try {
            for (; movedAside < targets.size(); movedAside++) {
                Path aside = asides.get(movedAside);
                if (aside != null) {
                    if (!fs.rename(targets.get(movedAside), aside)) {
                        throw new IOException("could not move " + targets.get(movedAside) + " aside to " + aside);
                    }
                }
            }
            for (; placed < targets.size(); placed++) {
                if (!fs.rename(staged.get(placed), targets.get(placed))) {
                    throw new IOException("could not rename " + staged.get(placed) + " to " + targets.get(placed));
                }
            }
        } catch (IOException e) {
            if (movedAside < targets.size() && asides.get(movedAside) != null) {
                // A rename that failed after copying (Hadoop's local file system copies when the
                // system's rename fails) leaves a copy under the aside name: deleted while the file
                // is still in place, put back where it is not (a store that deleted it, then failed).
                Path aside = asides.get(movedAside);
                try {
                    if (fs.exists(targets.get(movedAside))) {
                        fs.delete(aside, false);
                    } else if (fs.exists(aside)) {
                        fs.rename(aside, targets.get(movedAside));
                    }
                } catch (IOException ignored) {
                    // The error below is what matters; what could not be tidied stays under the hidden name.
                }
            }
            for (int i = 0; i < placed; i++) {
                fs.rename(targets.get(i), staged.get(i));
            }
            for (int i = 0; i < movedAside; i++) {
                if (asides.get(i) != null) {
                    fs.rename(asides.get(i), targets.get(i));
                }
            }
            throw e;
        }
        List<Path> leftOver = new ArrayList<>();
        for (int i = 0; i < targets.size(); i++) {
            fs.cancelDeleteOnExit(staged.get(i));
            Path aside = asides.get(i);
            if (aside != null && !fs.delete(aside, false) && fs.exists(aside)) {
                leftOver.add(aside);
            }
        }
        return leftOver;
    }

    /** Writes the content of one file of {@link #writeWhole}. */
    public interface Content {
        void write(int file, OutputStream out) throws IOException;
    }

    /**
     * Writes files at {@code uris}, all put in place whole or none: each is written under its
     * {@link #stage} name (through a 1 MB buffer) by {@code content}, then all are published
     * ({@code overwrite} as there; returns what {@link #publish} returns). A local name that is a
     * link is written where the link points, as writing through it would. On any failure the
     * staged files are deleted and the files there stay as they were; a full local disk, which
     * Hadoop reports as an {@code FSError}, is said as such. {@code option} names the location in
     * the messages.
     */
    public List<Path> writeWhole(String option, List<String> uris, boolean overwrite, Content content)
            throws IOException {
        List<Path> staged = new java.util.concurrent.CopyOnWriteArrayList<>();
        Interruption interruption = new Interruption(option, uris, staged);
        try {
            // As long as a move into place may take (object stores copy).
            ShutdownHookManager.get().addShutdownHook(interruption, FileSystem.SHUTDOWN_HOOK_PRIORITY + 5, 10,
                    java.util.concurrent.TimeUnit.MINUTES);
        } catch (IllegalStateException shuttingDown) {
            throw interruption.error();
        }
        try {
            for (int i = 0; i < uris.size(); i++) {
                Path temporary;
                // Staged under the hook's lock: a shutdown deletes every staged file, and stages no more.
                synchronized (interruption) {
                    if (interruption.abandoned) {
                        throw interruption.error();
                    }
                    temporary = stage(option, uris.get(i));
                    staged.add(temporary);
                }
                try (OutputStream out = new BufferedOutputStream(storage.fileSystem(uris.get(i)).create(temporary, true), 1 << 20)) {
                    content.write(i, out);
                }
            }
            synchronized (interruption) {
                if (interruption.abandoned) {
                    throw interruption.error();
                }
                List<Path> leftOver = publish(staged, option, uris, overwrite);
                interruption.published = true;
                lastWritten = interruption.written();
                return leftOver;
            }
        } catch (FSError e) {
            interruption.failed();
            throw new SparseAttentionException("could not write " + String.join(", ", uris) + " (" + e.getMessage()
                    + "); nothing was written", e);
        } catch (IOException e) {
            interruption.failed();
            if (interruption.causedBy(e)) {
                throw interruption.error();
            }
            // Checked before, refused now (a permission or a quota on another file system, a name
            // too long for it): the files there stay as they were.
            String why = "could not write " + String.join(", ", uris) + " (" + e.getMessage() + "); nothing was written";
            throw e instanceof AccessDeniedException || e instanceof AccessControlException
                    ? new InvalidInputException(why, e) : new SparseAttentionException(why, e);
        } catch (RuntimeException | Error e) {
            interruption.failed();
            if (interruption.causedBy(e)) {
                throw interruption.error();
            }
            throw e;
        } finally {
            try {
                ShutdownHookManager.get().removeShutdownHook(interruption);
            } catch (IllegalStateException shuttingDown) {
                // The hook runs, or has run, and says what became of the files.
            }
        }
    }

    /** The files the last {@link #writeWhole} of this JVM put in place, with their option; null before. */
    private static volatile String lastWritten;

    /** Returns the files the last {@link #writeWhole} put in place, with their verb ("--out a, b were"), or null if none has. */
    public static String lastWritten() {
        return lastWritten;
    }

    /** Set once a shutdown during {@link #writeWhole} has said what became of its files. */
    private static volatile boolean interruptionReported;

    /** Whether a shutdown during {@link #writeWhole} reported what became of its files (the command's own error need not). */
    public static boolean interruptionReported() {
        return interruptionReported;
    }

    /**
     * What a shutdown (Ctrl-C, SIGTERM) during {@link #writeWhole} does: the files there stay as
     * they were, the unfinished ones and the directories made for them are deleted, and it says
     * so; a shutdown while the new files are put in place waits for that to end.
     */
    private final class Interruption implements Runnable {
        private final String option;
        private final List<String> uris;
        private final List<Path> staged;
        /** The directory of the first file and its nearest ancestor that existed before writing. */
        private final Path parent;
        private final Path existed;
        boolean abandoned;
        boolean published;

        Interruption(String option, List<String> uris, List<Path> staged) throws IOException {
            this.option = option;
            this.uris = uris;
            this.staged = staged;
            this.parent = storage.target(uris.get(0)).getParent();
            this.existed = HadoopStorage.nearestExisting(storage.fileSystem(uris.get(0)), parent);
        }

        /** After a failed write: deletes the staged files and the directories made for them. */
        void failed() {
            staged.forEach(WholeFiles.this::discard);
            try {
                HadoopStorage.deleteEmptyBelow(storage.fileSystem(uris.get(0)), parent, existed);
            } catch (IOException e) {
                // Best effort: what is left is empty directories.
            }
        }

        /**
         * Whether a write's failure came from a shutdown under way: Ctrl-C on a terminal also stops
         * the {@code chmod} that Hadoop's local file system runs for a new file, which may fail the
         * write just before the JVM hears of the signal. Waits up to 2 s for the shutdown's report
         * then, so that the command says only that.
         */
        boolean causedBy(Throwable e) {
            boolean signalled = false;
            for (Throwable t = e; t != null; t = t.getCause()) {
                signalled |= t instanceof org.apache.hadoop.util.Shell.ExitCodeException exit && exit.getExitCode() > 128;
            }
            if (!signalled && !ShutdownHookManager.get().isShutdownInProgress()) {
                return false;
            }
            long deadline = System.nanoTime() + 2_000_000_000L;
            while (!interruptionReported && System.nanoTime() < deadline) {
                try {
                    Thread.sleep(10);
                } catch (InterruptedException stop) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            return interruptionReported;
        }

        /** The files with their option and verb: "--out a, b were". */
        String written() {
            return option + String.join(", ", uris) + (uris.size() > 1 ? " were" : " was");
        }

        /** The writing thread's error once a shutdown came: nothing was written. */
        SparseAttentionException error() {
            return new SparseAttentionException("interrupted: nothing was written to " + option + String.join(", ", uris));
        }

        @Override
        public synchronized void run() {
            interruptionReported = true;
            if (published) {
                System.err.println("interrupted after " + written() + " written whole");
                return;
            }
            abandoned = true;
            failed();
            System.err.println(error().getMessage() + " (what was there is as it was; the unfinished files, and"
                    + " directories made for them, were deleted)");
        }
    }

    /** Deletes a staged file that will not be published. */
    private void discard(Path staged) {
        try {
            HadoopStorage.raw(staged.getFileSystem(storage.configuration())).delete(staged, false);
        } catch (IOException ignored) {
            // Best effort: the JVM's exit deletes it too.
        }
    }
}
