package org.sparseattention.io;

import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FsStatus;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.StreamCapabilities;
import org.apache.hadoop.fs.UnsupportedFileSystemException;
import org.apache.hadoop.security.AccessControlException;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;

/** {@link Storage} on Hadoop's {@code FileSystem}: any scheme Hadoop knows, plain paths as local files. */
public final class HadoopStorage implements Storage, Serializable {
    private static final long serialVersionUID = 1L;
    private transient Configuration configuration;

    public HadoopStorage() {
    }

    public HadoopStorage(Configuration configuration) {
        this.configuration = configuration;
    }

    /**
     * Returns storage configured like Spark configures Hadoop: defaults plus every
     * {@code spark.hadoop.*} entry of the Spark settings {@code settings}, without its prefix.
     */
    public static HadoopStorage withSparkHadoopProperties(Map<String, String> settings) {
        Configuration configuration = new Configuration();
        settings.forEach((name, value) -> {
            if (name.startsWith("spark.hadoop.")) {
                configuration.set(name.substring("spark.hadoop.".length()), value);
            }
        });
        return new HadoopStorage(configuration);
    }

    /** Ships the configuration with the object, so executors open files as the driver does. */
    private void writeObject(ObjectOutputStream out) throws IOException {
        out.defaultWriteObject();
        configuration().write(out);
    }

    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
        in.defaultReadObject();
        configuration = new Configuration(false);
        configuration.readFields(in);
    }

    Configuration configuration() {
        if (configuration == null) {
            configuration = new Configuration();
        }
        return configuration;
    }

    /**
     * Returns {@code uri} as a fully qualified path of its file system, with {@code .} and
     * {@code ..} resolved and no trailing {@code /}, so that equal locations give equal paths.
     */
    public Path path(String uri) throws IOException {
        Path qualified = fileSystem(uri).makeQualified(parse(uri));
        URI parts = qualified.toUri();
        String path = parts.getPath();
        int end = path.length();
        while (end > 1 && path.charAt(end - 1) == '/') {
            end--;
        }
        return end == path.length() ? qualified : new Path(parts.getScheme(), parts.getAuthority(), path.substring(0, end));
    }

    /** {@link #path(String)}, with {@code option} (as {@code "--out "}) before the error about a bad location. */
    public Path path(String option, String uri) throws IOException {
        try {
            return path(uri);
        } catch (SparseAttentionException e) {
            throw e.naming(option.strip());
        }
    }

    /**
     * Returns {@code path} (qualified) with symbolic links resolved where it is a local file or
     * lies under an existing local directory; other file systems' paths as they are.
     */
    public Path realPath(Path path) throws IOException {
        if (!"file".equals(path.toUri().getScheme())) {
            return path;
        }
        java.nio.file.Path local = java.nio.file.Path.of(path.toUri().getPath());
        java.nio.file.Path existing = nearestExisting(local);
        if (existing == null) {
            return path;
        }
        java.nio.file.Path real = existing.toRealPath().resolve(existing.relativize(local));
        return new Path("file", null, real.toString());
    }

    /** Returns {@code path} or its nearest ancestor that exists on {@code fs} (at the last, the root). */
    public static Path nearestExisting(FileSystem fs, Path path) throws IOException {
        Path existing = path;
        while (existing.getParent() != null && !fs.exists(existing)) {
            existing = existing.getParent();
        }
        return existing;
    }

    /**
     * Deletes {@code dir} and its ancestors below {@code existed} (the nearest that existed before
     * a command made them) while they are empty: what a failed or interrupted write made and left.
     * Missing ones are passed over; the walk stops at the first that holds something.
     */
    public static void deleteEmptyBelow(FileSystem fs, Path dir, Path existed) throws IOException {
        for (Path at = dir; at != null && !at.equals(existed); at = at.getParent()) {
            if (fs.exists(at) && (fs.listStatus(at).length > 0 || !fs.delete(at, false))) {
                return;
            }
        }
    }

    /** Returns {@code local} or its nearest ancestor that exists, or null when none does. */
    public static java.nio.file.Path nearestExisting(java.nio.file.Path local) {
        java.nio.file.Path existing = local;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        return existing;
    }

    /**
     * On the local file system, checks before any work that the directory {@code dir} that will
     * hold an output (and what is staged beside it) exists or can be created: its nearest existing
     * ancestor must be a directory in which a directory can be made (tried with a hidden one,
     * removed at once). {@code what} names the option and its value in the error. Other file
     * systems are not probed: object stores have no directories to probe, and their failures come
     * from the service when the output is written.
     */
    public static void checkCanWriteIn(String what, Path dir) throws IOException {
        if (dir == null || !"file".equals(dir.toUri().getScheme())) {
            return;
        }
        java.nio.file.Path local = java.nio.file.Path.of(dir.toUri().getPath());
        for (java.nio.file.Path p = local; p != null && !Files.exists(p); p = p.getParent()) {
            // A link to nothing on the way: no directory can be made in its place (Mkdirs fails later).
            if (Files.isSymbolicLink(p)) {
                throw new InvalidInputException(what + ": " + p + " is a symbolic link to " + danglingTarget(p));
            }
        }
        java.nio.file.Path existing = nearestExisting(local);
        if (existing == null) {
            return;
        }
        if (!Files.isDirectory(existing)) {
            throw new InvalidInputException(what + ": " + existing + " is a file, not a directory");
        }
        java.nio.file.Path probe;
        try {
            probe = Files.createTempDirectory(existing, ".sparse-attention-probe-");
        } catch (IOException e) {
            throw new InvalidInputException(what + ": cannot write in " + existing + " (" + e + ")", e);
        }
        probe.toFile().deleteOnExit();
        Files.delete(probe);
    }

    /**
     * Returns a new hidden name beside {@code target} to move it aside to while something takes its
     * place: a name of its own, so that no file already there is touched.
     */
    public static Path asideOf(Path target) {
        return besideAs(target, asidePrefix(target) + java.util.UUID.randomUUID());
    }

    /** Returns how the names {@link #asideOf} gives {@code target} begin. */
    public static String asidePrefix(Path target) {
        return "." + target.getName() + ASIDE;
    }

    private static final String ASIDE = ".replaced-";
    /** Bytes {@link #asideOf} adds to a name: a leading dot, the suffix and a UUID. */
    public static final int ASIDE_EXTRA = 1 + ASIDE.length() + 36;

    /**
     * Returns {@code name} in {@code target}'s directory; built from its parts: a name with ':' would
     * read as a URI scheme on its own ({@code new Path(parent, ".a:b.npy.partial")} throws).
     */
    static Path besideAs(Path target, String name) {
        URI parent = target.getParent().toUri();
        return new Path(target.toUri().getScheme(), target.toUri().getAuthority(),
                parent.getPath().replaceAll("/$", "") + "/" + name);
    }

    /**
     * Returns {@link #realPath} of {@code path}, and for HDFS with its authority replaced by the
     * name node's address as Hadoop resolves it (its canonical service name), so that two
     * spellings of one name node ({@code hdfs://nn.example:8020}, {@code hdfs://10.0.0.5:8020})
     * compare equal. Only for comparing locations: the path itself keeps the user's spelling. A
     * name node reached once through its HA name service and once by its own address still
     * compares unequal.
     */
    public Path comparablePath(Path path) throws IOException {
        Path real = realPath(path);
        URI parts = real.toUri();
        if (!"hdfs".equals(parts.getScheme()) || parts.getAuthority() == null) {
            return real;
        }
        String service = real.getFileSystem(configuration()).getCanonicalServiceName();
        return service == null ? real : new Path(parts.getScheme(), service, parts.getPath());
    }

    /**
     * Returns the file system of {@code uri}; local files without Hadoop's side {@code .crc} files.
     * A location no file system can take ({@code file://data/q.npy}, whose {@code data} reads as a
     * host; {@code hdfs:///q.npy} with no default name node; an unknown host) is bad input; a file
     * system that could not start (a service that did not answer) a failure.
     */
    public FileSystem fileSystem(String uri) throws IOException {
        Path path = parse(uri);
        FileSystem fs;
        try {
            fs = raw(path.getFileSystem(configuration()));
        } catch (UnsupportedFileSystemException e) {
            throw new InvalidInputException(uri + ": no file system for its scheme: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            if (e.getCause() instanceof ClassNotFoundException missing) {
                // A scheme Hadoop knows whose client is not on the classpath (s3a without hadoop-aws).
                throw new InvalidInputException(uri + ": no file system for its scheme on the classpath ("
                        + missing.getMessage() + "; s3a:// needs org.apache.hadoop:hadoop-aws, for one)", e);
            }
            if (!(e instanceof IllegalArgumentException)) {
                throw e;
            }
            // An unknown host, say.
            throw new InvalidInputException(uri + ": cannot open its file system: " + e.getMessage(), e);
        } catch (IOException e) {
            URI parts = path.toUri();
            if (parts.getScheme() != null && parts.getAuthority() == null) {
                // hdfs:///q.npy where no default file system of that scheme gives the host.
                throw new InvalidInputException(uri + ": cannot open its file system (it names no host): "
                        + e.getMessage(), e);
            }
            // A service that did not answer, a login that failed: a failure, not bad input.
            throw new SparseAttentionException(uri + ": cannot open its file system: " + e.getMessage(), e);
        }
        try {
            fs.makeQualified(path);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException(uri + ": not a location of " + fs.getUri() + " (" + e.getMessage()
                    + "); a local file is a plain path or file:///path", e);
        }
        return fs;
    }

    private Path parse(String uri) {
        try {
            return new Path(physical(uri));
        } catch (IllegalArgumentException e) {
            if (e.getCause() instanceof java.net.URISyntaxException && uri.indexOf(':') > 0
                    && uri.indexOf('/') < 0) {
                // "a:b.npy": Hadoop reads what comes before the ':' as a scheme.
                throw new InvalidInputException("'" + uri + "': not a path or URI: '" + uri.substring(0,
                        uri.indexOf(':') + 1) + "' reads as a URI scheme; for a local name with ':', write ./" + uri
                        + " or its absolute path", e);
            }
            throw new InvalidInputException("'" + uri + "': not a path or URI: " + e.getMessage(), e);
        }
    }

    /** A {@code ..} of a path: Hadoop's paths drop it with the name before it, as text. */
    private static final java.util.regex.Pattern PARENT = java.util.regex.Pattern.compile("(^|/)\\.\\.(/|$)");

    /**
     * Returns a local {@code uri} (a plain path or {@code file:}) whose names include {@code ..}
     * with its existing part resolved as the operating system resolves it: {@code link/..} is the
     * parent of where the link points, not the directory holding the link. Others as they are.
     */
    private String physical(String uri) {
        if (!PARENT.matcher(uri).find()) {
            return uri;
        }
        String local;
        if (uri.startsWith("file://")) {
            local = uri.substring("file://".length());
        } else if (uri.startsWith("file:")) {
            local = uri.substring("file:".length());
        } else if (uri.matches("^[a-zA-Z][a-zA-Z0-9+.-]*:.*")
                || !"file".equals(FileSystem.getDefaultUri(configuration()).getScheme())) {
            // Another file system's, or a plain path of a default file system that is not local (HDFS).
            return uri;
        } else {
            local = uri;
        }
        if (!local.startsWith("/") && uri.startsWith("file:")) {
            // file://host/... names a host: not ours to resolve.
            return uri;
        }
        try {
            java.nio.file.Path raw = java.nio.file.Path.of(local).toAbsolutePath();
            java.nio.file.Path existing = nearestExisting(raw);
            // With its scheme: a plain path could name the default file system, which may not be local.
            return existing == null ? uri
                    : "file:" + existing.toRealPath().resolve(existing.relativize(raw)).normalize();
        } catch (IOException | java.nio.file.InvalidPathException e) {
            return uri;
        }
    }

    /**
     * Returns a refused access as the project's error for bad input, naming the location; any other
     * failure (a name node that refuses the connection, say) as a failure naming it.
     */
    static RuntimeException refused(String uri, IOException e) {
        if (e instanceof FileNotFoundException || e instanceof AccessDeniedException
                || e instanceof AccessControlException) {
            return new InvalidInputException(uri + ": cannot be read: " + e.getMessage(), e);
        }
        return new SparseAttentionException(uri + ": could not be reached: " + e, e);
    }

    /**
     * Returns a note for a local location not found whose {@code %XX} escapes, decoded as a URI's
     * would be, name a file that exists (what {@code pathlib.Path.as_uri()} writes); else "".
     */
    static String undecodedEscapes(String uri) {
        if (!uri.contains("%")) {
            return "";
        }
        try {
            URI parsed = new URI(uri);
            String path = parsed.getPath();
            if ((parsed.getScheme() == null || "file".equals(parsed.getScheme())) && path != null
                    && !path.equals(parsed.getRawPath()) && Files.exists(java.nio.file.Path.of(path))) {
                return " (locations are Hadoop paths, whose %XX escapes are not decoded: " + path
                        + " exists; give it as it is named)";
            }
        } catch (java.net.URISyntaxException | java.nio.file.InvalidPathException e) {
            // Not a URI: no escapes to speak of.
        }
        return "";
    }

    /**
     * Returns {@code fs} without a client-side checksum layer: Hadoop's local file system
     * otherwise writes a hidden {@code .crc} beside every file and refuses a file that another
     * tool (NumPy, say) rewrote later.
     */
    public static FileSystem raw(FileSystem fs) {
        return fs instanceof LocalFileSystem local ? local.getRawFileSystem() : fs;
    }

    @Override
    public long length(String uri) throws IOException {
        FileStatus status;
        FileSystem fs;
        try {
            fs = fileSystem(uri);
        } catch (IOException e) {
            throw refused(uri, e);
        }
        Path path = fs.makeQualified(parse(uri));
        java.nio.file.Path local = "file".equals(path.toUri().getScheme()) ? java.nio.file.Path.of(path.toUri().getPath())
                : null;
        try {
            status = fs.getFileStatus(path);
        } catch (FileNotFoundException e) {
            if (local != null && Files.isSymbolicLink(local)) {
                throw new InvalidInputException(uri + ": a symbolic link to " + danglingTarget(local), e);
            }
            throw new InvalidInputException(uri + ": no such file" + undecodedEscapes(uri), e);
        } catch (IOException e) {
            throw refused(uri, e);
        }
        if (status.isDirectory()) {
            throw new InvalidInputException(uri + ": expected a file, got a directory");
        }
        if (local != null && !Files.isRegularFile(local)) {
            // A named pipe would block the read until something writes to it; a device has no length.
            throw new InvalidInputException(uri + ": expected a regular file, got a named pipe, device or socket");
        }
        return status.getLen();
    }

    @Override
    public boolean exists(String uri) throws IOException {
        try {
            return fileSystem(uri).exists(parse(uri));
        } catch (IOException e) {
            throw refused(uri, e);
        }
    }

    @Override
    public Input open(String uri) throws IOException {
        FSDataInputStream stream;
        try {
            stream = fileSystem(uri).open(parse(uri));
        } catch (IOException e) {
            throw refused(uri, e);
        }
        // Hadoop's local stream reads into byte arrays only, through the JDK's temporary direct
        // buffer: positioned reads on its own descriptor fill a direct buffer in one copy instead
        // of two (rows read about 1.3 x as fast). Stores whose streams read into buffers use that.
        FileDescriptor descriptor = stream.getFileDescriptor();
        FileChannel local = descriptor == null ? null : new FileInputStream(descriptor).getChannel();
        boolean buffered = stream.hasCapability(StreamCapabilities.PREADBYTEBUFFER);
        return new Input() {
            @Override
            public void readFully(long position, byte[] buffer, int offset, int length) throws IOException {
                stream.readFully(position, buffer, offset, length);
            }

            @Override
            public void readFully(long position, ByteBuffer target) throws IOException {
                if (local != null) {
                    long at = position;
                    while (target.hasRemaining()) {
                        int n = local.read(target, at);
                        if (n < 0) {
                            throw new EOFException(uri + ": end of file at byte " + at + ", " + target.remaining()
                                    + " more bytes expected");
                        }
                        at += n;
                    }
                } else if (buffered) {
                    stream.readFully(position, target);
                } else {
                    Input.super.readFully(position, target);
                }
            }

            @Override
            public void close() throws IOException {
                stream.close();
            }
        };
    }

    /** Where a file written at {@code uri} goes: a local name that is a link, where the link points. */
    Path target(String uri) throws IOException {
        return realPath(path(uri));
    }

    /** Names where the link {@code link}, which leads nowhere, points, and why that cannot be reached. */
    static String danglingTarget(java.nio.file.Path link) {
        try {
            // Named from the link's directory; a chain or a loop exists but cannot be reached.
            java.nio.file.Path to = link.resolveSibling(Files.readSymbolicLink(link));
            return to + (Files.exists(to, java.nio.file.LinkOption.NOFOLLOW_LINKS) ? ", which cannot be reached"
                    : ", which does not exist");
        } catch (IOException e) {
            return "a target that cannot be read";
        }
    }

    /**
     * Returns the bytes free where {@code uri} would be written (its nearest existing directory):
     * on the local file system those this user may write; or -1 where the file system does not say.
     */
    public long remaining(String uri) throws IOException {
        FileSystem fs = fileSystem(uri);
        Path at = nearestExisting(fs, path(uri));
        if ("file".equals(at.toUri().getScheme())) {
            // What this user may write (as df reports), not Hadoop's count of free blocks, which
            // includes those reserved for the superuser.
            java.io.File local = new java.io.File(at.toUri().getPath());
            return local.getTotalSpace() > 0 ? local.getUsableSpace() : -1;
        }
        try {
            FsStatus status = fs.getStatus(at);
            return status.getCapacity() > 0 ? status.getRemaining() : -1;
        } catch (IOException | UnsupportedOperationException e) {
            return -1;
        }
    }

    @Override
    public OutputStream create(String uri) throws IOException {
        return fileSystem(uri).create(parse(uri), true);
    }
}
