package org.sparseattention.io;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;

class HadoopStorageTest {
    private final HadoopStorage storage = new HadoopStorage();

    @Test
    void oneLocationSpelledInDifferentWaysGivesOnePath(@TempDir Path dir) throws IOException {
        String plain = dir.resolve("out").toString();
        org.apache.hadoop.fs.Path expected = storage.path(plain);
        for (String other : new String[] {plain + "/", plain + "/.", plain + "/x/..", "file://" + plain + "/.",
            "file://" + plain + "//", dir + "/./out"}) {
            assertEquals(expected, storage.path(other), other);
        }
        assertEquals("file:" + plain, expected.toString());
    }

    @Test
    void linksAreResolvedUpToTheFirstMissingName(@TempDir Path dir) throws IOException {
        Path real = Files.createDirectories(dir.resolve("real"));
        Path link = Files.createSymbolicLink(dir.resolve("link"), real);
        assertEquals(storage.path(real.resolve("a/b").toString()),
                storage.realPath(storage.path(link.resolve("a/b").toString())));
        assertEquals(storage.path(real.toString()), storage.realPath(storage.path(link.toString())));
    }

    /** {@code link/..} is the parent of where the link points, as the shell has it, not the link's own directory. */
    @Test
    void aParentAfterALinkIsResolvedAsTheSystemDoes(@TempDir Path temporary) throws IOException {
        // Resolved links all the way: a temporary directory may itself lie under one.
        Path dir = temporary.toRealPath();
        Path target = Files.createDirectories(dir.resolve("elsewhere/sample"));
        Files.writeString(dir.resolve("elsewhere/q.npy"), "q");
        Path link = Files.createSymbolicLink(dir.resolve("link"), target);
        String through = link + "/../q.npy";
        assertEquals(storage.path(dir.resolve("elsewhere/q.npy").toString()), storage.path(through));
        assertEquals(1, storage.length(through));
        assertEquals(storage.path(dir.resolve("elsewhere/new/out").toString()),
                storage.path("file://" + link + "/../new/out"), "a location yet to be made, under the same parent");
        assertEquals(storage.path(dir.resolve("plain").toString()), storage.path(dir + "/x/../plain"),
                "no link: as text");
        Path spaced = Files.createDirectories(dir.resolve("with space/a"));
        Files.writeString(dir.resolve("with space/q.npy"), "qq");
        assertEquals(2, storage.length(spaced + "/../q.npy"), "a name with a space, not encoded twice");
    }

    @Test
    void aLocationThatIsNoPathIsBadInput() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> storage.path("x:y.npy"));
        assertTrue(e.getMessage().startsWith("'x:y.npy': not a path or URI"), e.getMessage());
        // The way out the message offers is a location.
        assertTrue(e.getMessage().contains("write ./x:y.npy"), e.getMessage());
        assertEquals("x:y.npy", assertDoesNotThrow(() -> storage.path("./x:y.npy")).getName());
        e = assertThrows(InvalidInputException.class, () -> storage.length("nosuchscheme://h/q.npy"));
        assertTrue(e.getMessage().startsWith("nosuchscheme://h/q.npy: no file system for its scheme"), e.getMessage());
    }

    /** A scheme whose client is not on the classpath is bad input; a service that refuses the connection a failure. */
    @Test
    void aMissingClientAndAnUnreachableServiceAreNamedInOneLine() {
        InvalidInputException missing = assertThrows(InvalidInputException.class, () -> storage.length("s3a://bucket/q.npy"));
        assertTrue(missing.getMessage().startsWith("s3a://bucket/q.npy: no file system for its scheme on the classpath"
                + " (Class org.apache.hadoop.fs.s3a.S3AFileSystem not found"), missing.getMessage());
        org.apache.hadoop.conf.Configuration conf = new org.apache.hadoop.conf.Configuration();
        conf.setInt("ipc.client.connect.max.retries", 0);
        SparseAttentionException unreachable = assertThrows(SparseAttentionException.class,
                () -> new HadoopStorage(conf).length("hdfs://127.0.0.1:1/q.npy"));
        assertFalse(unreachable instanceof InvalidInputException, "a failure, not bad input");
        assertTrue(unreachable.getMessage().startsWith("hdfs://127.0.0.1:1/q.npy: could not be reached:"
                + " java.net.ConnectException"), unreachable.getMessage());
    }
}
