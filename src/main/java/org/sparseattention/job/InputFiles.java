package org.sparseattention.job;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;
import org.sparseattention.io.HadoopStorage;
import org.sparseattention.io.NpyFile;
import org.sparseattention.io.NpyHeader;
import org.sparseattention.plan.InputShape;
import org.sparseattention.plan.JobSettings;

/** The driver's checks of q, k, v and the output location, made before any Spark work starts. */
public final class InputFiles {
    private InputFiles() {
    }

    /** What {@link #check} found: the inputs' shape, and whether {@code --out} existed when it was checked. */
    public record Checked(InputShape shape, boolean outExisted) {
    }

    /**
     * Reads the three headers, checks them against each other and the settings, and checks the
     * output location; returns the shape and whether the output existed (the one answer that
     * decides whether {@code --overwrite} may replace it: an output that appears later is not).
     */
    public static Checked check(JobSettings settings, HadoopStorage storage) throws IOException {
        NpyHeader q = header(storage, "--q", settings.q());
        NpyHeader k = header(storage, "--k", settings.k());
        NpyHeader v = header(storage, "--v", settings.v());
        long[] shape = NpyFile.batchShape(q);
        sameShape(q, k, "--k");
        sameShape(q, v, "--v");
        if (shape[0] < 1 || shape[1] < 1 || shape[2] < 1) {
            throw new InvalidInputException("--q " + q.file() + ": field 'shape': expected sizes >= 1, got "
                    + Arrays.toString(q.shape()));
        }
        String[] sizes = {"B", "L", "E"};
        long[] largest = {Integer.MAX_VALUE, InputShape.MAX_SEQ_LEN, InputShape.MAX_FEATURES};
        for (int i = 0; i < 3; i++) {
            if (shape[i] > largest[i]) {
                throw new InvalidInputException("--q " + q.file() + ": field 'shape': expected " + sizes[i] + " <= "
                        + largest[i]
                        + ", got " + sizes[i] + " = " + shape[i] + " in " + Arrays.toString(q.shape()));
            }
        }
        if (shape[2] % settings.heads() != 0) {
            throw new InvalidInputException("--q " + q.file() + ": field 'shape': features E = " + shape[2]
                    + " must be divisible by --heads " + settings.heads() + ": " + shape[2] + " % "
                    + settings.heads() + " = " + shape[2] % settings.heads());
        }
        checkShardSize(settings.shardRows(), shape[1], shape[2]);
        boolean existed;
        try {
            existed = checkOutput(settings, storage);
        } catch (SparseAttentionException e) {
            // The file system's own errors (a name node that does not answer) named with the option too.
            throw e.getMessage().startsWith("--out ") ? e : e.naming("--out");
        }
        return new Checked(new InputShape((int) shape[0], (int) shape[1], (int) shape[2], settings.heads()), existed);
    }

    /** Reads the header of input {@code uri} and checks its rank; an error about it names its option too. */
    private static NpyHeader header(HadoopStorage storage, String option, String uri) throws IOException {
        try {
            NpyHeader header = NpyFile.readHeader(storage, uri);
            NpyFile.batchShape(header);
            return header;
        } catch (SparseAttentionException e) {
            throw e.naming(option);
        }
    }

    /** Refuses shards whose output no array holds: a shard task holds its rows' output in one. */
    static void checkShardSize(int shardRows, long seqLen, long features) {
        long rows = Math.min(shardRows, seqLen);
        if (rows * features > Integer.MAX_VALUE - 8) {
            throw new InvalidInputException("--shard-rows " + shardRows + ": expected at most " + (Integer.MAX_VALUE - 8)
                    + " output values per shard, got " + rows + " rows x E = " + features + " = " + rows * features
                    + "; choose fewer rows per shard");
        }
    }

    private static void sameShape(NpyHeader q, NpyHeader other, String option) {
        if (!Arrays.equals(q.shape(), other.shape())) {
            throw new InvalidInputException(option + " " + other.file() + ": field 'shape': expected "
                    + Arrays.toString(q.shape()) + " (the shape of --q " + q.file() + "), got "
                    + Arrays.toString(other.shape()) + ": --q and " + option + " shapes differ");
        }
    }

    /**
     * Refuses an output that exists (without --overwrite, or that is not this tool's to replace),
     * that contains or lies inside an input, or whose name Hadoop's paths cannot hold; returns
     * whether it exists.
     */
    static boolean checkOutput(JobSettings settings, HadoopStorage storage) throws IOException {
        if (settings.out().indexOf('/') < 0 && settings.out().indexOf(':') >= 0) {
            // A relative name with ':' (which Hadoop would read as a scheme): refused for its name, as below.
            throw noColon(settings.out(), settings.out());
        }
        Path out = storage.path("--out ", settings.out());
        if (out.getName().contains(":")) {
            // Hadoop reads a ':' in a path's last name as a URI scheme: its staging directory
            // beside it could not be named.
            throw noColon(settings.out(), out.getName());
        }
        checkNameLength(settings.out(), out.getName(), false);
        if ("file".equals(out.toUri().getScheme())) {
            java.nio.file.Path local = java.nio.file.Path.of(out.toUri().getPath());
            if (Files.isSymbolicLink(local) && !Files.exists(local)) {
                throw new InvalidInputException("--out " + settings.out() + " is a symbolic link to "
                        + Files.readSymbolicLink(local) + ", which does not exist");
            }
        }
        Path realOut = storage.comparablePath(out);
        if (realOut.getName().contains(":")) {
            // A link to a directory whose name has ':': the run writes beside where the link leads.
            throw noColon(settings.out(), realOut.getName());
        }
        checkNameLength(settings.out(), realOut.getName(), true);
        for (String input : new String[] {settings.q(), settings.k(), settings.v()}) {
            Path in = storage.comparablePath(storage.path(input));
            if (isAncestorOrSelf(realOut, in) || isAncestorOrSelf(in, realOut)) {
                throw new InvalidInputException("--out " + settings.out() + " overlaps the input " + input
                        + ": the output directory must be outside every input path");
            }
        }
        boolean exists = storage.exists(settings.out());
        if (exists) {
            String refused;
            try {
                refused = whyNotReplaceable(storage.fileSystem(settings.out()), out);
            } catch (java.io.FileNotFoundException gone) {
                if (storage.exists(settings.out())) {
                    // Hadoop's local file system says "not found" of a file it may not open.
                    refused = "cannot be read to check that it is an output of this tool (" + gone.getMessage() + ")";
                } else {
                    // Deleted since it was seen: there is nothing to replace.
                    exists = false;
                    refused = null;
                }
            } catch (java.nio.file.AccessDeniedException | org.apache.hadoop.security.AccessControlException e) {
                // A directory that cannot be listed, a manifest that cannot be read: not known to be ours.
                refused = "cannot be read to check that it is an output of this tool (" + e.getMessage() + ")";
            } catch (IOException e) {
                // The file system failing (a name node gone): not the input's fault.
                throw new SparseAttentionException("--out " + settings.out() + ": could not be checked: " + e, e);
            }
            if (refused != null) {
                // --overwrite is suggested only where it would replace what is there.
                throw new InvalidInputException("--out " + settings.out() + " already exists and " + refused
                        + ": choose another location" + (settings.overwrite() ? " (--overwrite replaces only an"
                        + " empty directory or an output of this tool)" : ""));
            }
            if (exists && !settings.overwrite()) {
                throw new InvalidInputException("--out " + settings.out()
                        + " already exists: choose another directory or pass --overwrite to replace it");
            }
        }
        HadoopStorage.checkCanWriteIn("--out " + settings.out(), realOut.getParent());
        return exists;
    }

    /**
     * The longest last name of --out: 255 bytes (what a name may have in local file systems and
     * HDFS) less what the staging directory's name, or the name a replaced output is moved aside
     * to, adds to it.
     */
    static final int MAX_OUT_NAME_BYTES = 255 - Math.max(OutputLocation.STAGING_EXTRA, HadoopStorage.ASIDE_EXTRA);

    /** Refuses a last name of --out (as given, or where a link leads) whose names made beside it would pass 255 bytes. */
    private static void checkNameLength(String given, String name, boolean whereLinkLeads) {
        int nameBytes = name.getBytes(StandardCharsets.UTF_8).length;
        if (nameBytes > MAX_OUT_NAME_BYTES) {
            throw new InvalidInputException("--out " + given + ": field 'name': expected a name of at most "
                    + MAX_OUT_NAME_BYTES + " bytes, got " + nameBytes + (whereLinkLeads ? " ('" + name
                    + "', where a link on its path leads)" : ""));
        }
    }

    private static InvalidInputException noColon(String out, String name) {
        return new InvalidInputException("--out " + out + ": field 'name': expected a name without ':', got '" + name
                + "'");
    }

    /**
     * Returns why {@code out} may not be replaced, or null when it is an empty directory or a
     * previous output of this tool: a manifest of the tool's format, and no file the tool does not
     * write (replacing the directory would delete it).
     */
    static String whyNotReplaceable(FileSystem fs, Path out) throws IOException {
        if (!fs.getFileStatus(out).isDirectory()) {
            return "is a file, not an output of this tool";
        }
        String noManifest = "is not an output of this tool (no " + OutputFiles.MANIFEST + " of format "
                + OutputFiles.FORMAT + ")";
        FileStatus[] entries = fs.listStatus(out);
        if ("file".equals(out.toUri().getScheme())) {
            // Hadoop's local listing leaves out the entries it cannot look at (a directory without
            // search permission lists as empty): the names themselves, from the operating system.
            String[] names = new java.io.File(out.toUri().getPath()).list();
            if (names == null) {
                return "cannot be read to check that it is an output of this tool (it cannot be listed)";
            }
            java.util.Set<String> listed = new java.util.HashSet<>();
            for (FileStatus entry : entries) {
                listed.add(entry.getPath().getName());
            }
            for (String name : names) {
                boolean checksum = fs instanceof org.apache.hadoop.fs.ChecksumFileSystem && name.endsWith(".crc");
                if (!listed.contains(name) && !checksum) {
                    return "cannot be read to check that it is an output of this tool (its entry " + name
                            + " cannot be looked at)";
                }
            }
        }
        if (entries.length == 0) {
            return null;
        }
        for (FileStatus entry : entries) {
            if (!OutputFiles.isOwnName(entry.getPath().getName())) {
                return "holds " + entry.getPath().getName() + ", which this tool does not write";
            }
            // The tool writes files only: a directory of one of its names may hold anything.
            if (!entry.isFile()) {
                return "holds " + entry.getPath().getName() + " as a directory, where this tool writes a file";
            }
        }
        Path manifest = new Path(out, OutputFiles.MANIFEST);
        try {
            return isOwnManifest(fs, manifest) ? null : noManifest;
        } catch (java.io.FileNotFoundException e) {
            // Hadoop's local file system says "not found" of a file it may not open.
            if (fs.exists(manifest)) {
                return "cannot be read to check that it is an output of this tool (" + e.getMessage() + ")";
            }
            throw e;
        }
    }

    /**
     * Returns the manifest by which directory {@code dir} of {@code fs} (qualified, links resolved),
     * or the nearest of its ancestors that does, holds a run's output, or null: other files written
     * in it would keep {@code --overwrite} from replacing that output. A manifest that cannot be
     * read, or of another format, is no run's.
     */
    public static Path runOutputAt(FileSystem fs, Path dir) {
        for (Path at = dir; at != null; at = at.getParent()) {
            Path manifest = new Path(at, OutputFiles.MANIFEST);
            try {
                if (isOwnManifest(fs, manifest)) {
                    return manifest;
                }
            } catch (IOException unreadable) {
                // Not known to be a run's: the write goes ahead, and fails there if it must.
            }
        }
        return null;
    }

    /**
     * Returns whether {@code manifest} is a manifest this tool wrote (of its format, at most 16 MB);
     * Hadoop's local file system reports a file it may not open as not found.
     */
    private static boolean isOwnManifest(FileSystem fs, Path manifest) throws IOException {
        if (!fs.exists(manifest) || fs.getFileStatus(manifest).getLen() > 1 << 24) {
            return false;
        }
        try (FSDataInputStream in = fs.open(manifest)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).contains("\"" + OutputFiles.FORMAT + "\"");
        }
    }

    private static boolean isAncestorOrSelf(Path ancestor, Path path) {
        for (Path p = path; p != null; p = p.getParent()) {
            if (p.equals(ancestor)) {
                return true;
            }
        }
        return false;
    }
}
