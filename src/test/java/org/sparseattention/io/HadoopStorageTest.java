package org.sparseattention.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseattention.errors.InvalidInputException;

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

    @Test
    void aLocationThatIsNoPathIsBadInput() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> storage.path("x:y.npy"));
        assertTrue(e.getMessage().startsWith("'x:y.npy': not a path or URI"), e.getMessage());
        e = assertThrows(InvalidInputException.class, () -> storage.length("nosuchscheme://h/q.npy"));
        assertTrue(e.getMessage().startsWith("nosuchscheme://h/q.npy: no file system for its scheme"), e.getMessage());
    }
}
