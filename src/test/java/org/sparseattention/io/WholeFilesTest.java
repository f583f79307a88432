package org.sparseattention.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;
import org.sparseattention.job.UndeletableAsideFileSystem;

/** Files written whole or not at all: staged beside their place, moved in together, never half-replaced. */
class WholeFilesTest {
    private final HadoopStorage storage = new HadoopStorage();
    private final WholeFiles files = WholeFiles.on(storage);

    @Test
    void stagedFilesAreDeletedAtExitUntilPublishedAndMayHoldAColonInTheirName(@TempDir Path dir) throws IOException {
        String uri = dir.resolve("sub/a:b.npy").toString();
        Files.createDirectories(dir.resolve("sub"));
        org.apache.hadoop.fs.Path staged = files.stage("", uri);
        assertTrue(Files.exists(dir.resolve("sub/.a:b.npy.partial")), "created, so that the exit can delete it");
        org.apache.hadoop.fs.FileSystem fs = storage.fileSystem(uri);
        Files.writeString(dir.resolve("sub/.a:b.npy.partial"), "new");
        assertEquals(List.of(), files.publish(List.of(staged), "", List.of(uri), true), "nothing left over");
        assertEquals("new", Files.readString(dir.resolve("sub/a:b.npy")));
        assertFalse(fs.cancelDeleteOnExit(staged), "no longer registered once published");
        // Replacing it moves the old file aside under a name that holds the ':' too.
        org.apache.hadoop.fs.Path again = files.stage("", uri);
        Files.writeString(dir.resolve("sub/.a:b.npy.partial"), "newer");
        assertEquals(List.of(), files.publish(List.of(again), "", List.of(uri), true), "nothing left over");
        assertEquals("newer", Files.readString(dir.resolve("sub/a:b.npy")));
        try (java.util.stream.Stream<Path> left = Files.list(dir.resolve("sub"))) {
            assertEquals(List.of("a:b.npy"), left.map(p -> p.getFileName().toString()).toList());
        }
        org.apache.hadoop.fs.Path other = files.stage("", dir.resolve("other.npy").toString());
        assertTrue(fs.cancelDeleteOnExit(other), "registered for deletion at exit");
    }

    @Test
    void publishingSeveralFilesReplacesAllOrNone(@TempDir Path dir) throws IOException {
        List<String> uris = List.of(dir.resolve("q.npy").toString(), dir.resolve("k.npy").toString());
        Files.writeString(dir.resolve("q.npy"), "old q");
        Files.writeString(dir.resolve("k.npy"), "old k");
        org.apache.hadoop.fs.Path q = files.stage("", uris.get(0));
        org.apache.hadoop.fs.Path k = files.stage("", uris.get(1));
        Files.writeString(dir.resolve(".q.npy.partial"), "new q");
        Files.delete(dir.resolve(".k.npy.partial"));
        // k's new file is missing: q must not be replaced either.
        assertThrows(IOException.class, () -> files.publish(List.of(q, k), "", uris, true));
        assertEquals("old q", Files.readString(dir.resolve("q.npy")));
        assertEquals("old k", Files.readString(dir.resolve("k.npy")));
        Files.writeString(dir.resolve(".k.npy.partial"), "new k");
        files.publish(List.of(q, k), "", uris, true);
        assertEquals("new q", Files.readString(dir.resolve("q.npy")));
        assertEquals("new k", Files.readString(dir.resolve("k.npy")));
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of("k.npy", "q.npy"), files.map(f -> f.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void aFailedWriteDeletesTheDirectoriesItMade(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("kept.txt"), "a user's");
        Path deep = dir.resolve("a/b/c");
        List<String> uris = List.of(deep.resolve("q.npy").toString(), deep.resolve("k.npy").toString());
        SparseAttentionException e = assertThrows(SparseAttentionException.class,
                () -> files.writeWhole("--out ", uris, false, (file, out) -> {
                    out.write(1);
                    if (file == 1) {
                        throw new IOException("No space left on device");
                    }
                }));
        assertEquals("could not write " + String.join(", ", uris) + " (No space left on device); nothing was written",
                e.getMessage());
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of("kept.txt"), files.map(f -> f.getFileName().toString()).toList(),
                    "a/b/c made for the files and left empty: deleted");
        }
    }

    @Test
    void withoutOverwriteAFileThatAppearedMeanwhileIsKept(@TempDir Path dir) throws IOException {
        List<String> uris = List.of(dir.resolve("q.npy").toString(), dir.resolve("k.npy").toString());
        // Checked while nothing was there; then another writer's k.npy appears before the move.
        files.checkWritable("--out ", uris.get(1), false);
        Files.writeString(dir.resolve("k.npy"), "theirs");
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> files.writeWhole("--out ", uris, false, (file, out) -> out.write(("mine " + file).getBytes())));
        assertEquals("--out " + uris.get(1) + " appeared while this command ran: not replacing it without --overwrite",
                e.getMessage());
        assertEquals("theirs", Files.readString(dir.resolve("k.npy")));
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of("k.npy"), files.map(f -> f.getFileName().toString()).toList(),
                    "neither q.npy nor a staged file left");
        }
        files.writeWhole("--out ", uris, true, (file, out) -> out.write(("mine " + file).getBytes()));
        assertEquals("mine 1", Files.readString(dir.resolve("k.npy")));
    }

    @Test
    void aFileIsWrittenWhereItsLinkPointsAndALinkToNothingIsRefused(@TempDir Path dir) throws IOException {
        Path real = Files.writeString(dir.resolve("real.json"), "old");
        Path link = Files.createSymbolicLink(dir.resolve("link.json"), real);
        files.checkWritable("--json ", link.toString(), true);
        files.writeWhole("--json ", List.of(link.toString()), true, (file, out) -> out.write("new".getBytes()));
        assertTrue(Files.isSymbolicLink(link));
        assertEquals("new", Files.readString(real));
        Path dangling = Files.createSymbolicLink(dir.resolve("dangling.json"), dir.resolve("nothing.json"));
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> files.checkWritable("--json ", dangling.toString(), true));
        assertEquals("--json " + dangling + " is a symbolic link to " + dir.resolve("nothing.json") + ", which does not"
                + " exist: remove it or make what it points to", e.getMessage());
    }

    @Test
    void aFileInTheWayOfTheStagedNameIsFoundBeforeAnyWork(@TempDir Path dir) throws IOException {
        String uri = dir.resolve("bench.json").toString();
        Files.writeString(dir.resolve(".bench.json.partial"), "left by a killed run");
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> files.checkWritable("--json ", uri, false));
        assertTrue(e.getMessage().startsWith("--json " + uri + ": file:" + dir.resolve(".bench.json.partial")
                + " is in the way of writing it"), e.getMessage());
        assertEquals("left by a killed run", Files.readString(dir.resolve(".bench.json.partial")));
        // A link that leads nowhere: refused too, rather than written through.
        String grid = dir.resolve("grid.npy").toString();
        Files.createSymbolicLink(dir.resolve(".grid.npy.partial"), dir.resolve("elsewhere"));
        InvalidInputException linked = assertThrows(InvalidInputException.class,
                () -> files.checkWritable("--npy ", grid, false));
        assertTrue(linked.getMessage().contains(".grid.npy.partial is in the way of writing it"), linked.getMessage());
        assertThrows(InvalidInputException.class, () -> files.writeWhole("--npy ", List.of(grid), false,
                (file, out) -> out.write(1)));
        assertFalse(Files.exists(dir.resolve("elsewhere")), "nothing written where the link leads");
        assertFalse(Files.exists(dir.resolve("grid.npy")));
    }

    @Test
    void aNameTooLongForTheNamesMadeBesideItIsRefusedBeforeAnyWork(@TempDir Path dir) throws IOException {
        // The longest name: moved aside, it becomes a name of exactly 255 bytes.
        String longest = "g".repeat(WholeFiles.MAX_FILE_NAME_BYTES - 4) + ".npy";
        Path file = Files.writeString(dir.resolve(longest), "old");
        files.checkWritable("--npy ", file.toString(), true);
        files.writeWhole("--npy ", List.of(file.toString()), true, (i, out) -> out.write("new".getBytes()));
        assertEquals("new", Files.readString(file));
        Path over = dir.resolve("g" + longest);
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> files.checkWritable("--npy ", over.toString(), false));
        assertEquals("--npy " + over + ": field 'name': expected a name of at most " + WholeFiles.MAX_FILE_NAME_BYTES
                + " bytes, got " + (WholeFiles.MAX_FILE_NAME_BYTES + 1), e.getMessage());
        // Through a link, the name where it leads counts.
        Files.writeString(over, "theirs");
        Path link = Files.createSymbolicLink(dir.resolve("short.npy"), over);
        InvalidInputException linked = assertThrows(InvalidInputException.class,
                () -> files.checkWritable("--npy ", link.toString(), true));
        assertTrue(linked.getMessage().endsWith(" ('" + over.getFileName() + "', where a link leads)"),
                linked.getMessage());
    }

    /** Local files where moving a file aside copies it and then fails, as Hadoop's does where the system's rename fails. */
    public static class CopyingAsideFileSystem extends org.sparseattention.job.SchemeLocalFileSystem {
        public CopyingAsideFileSystem() {
            super("copyaside");
        }

        @Override
        public boolean rename(org.apache.hadoop.fs.Path from, org.apache.hadoop.fs.Path to) throws IOException {
            if (to.getName().contains(".replaced-")) {
                Files.copy(Path.of(from.toUri().getPath()), Path.of(to.toUri().getPath()));
                return false;
            }
            return super.rename(from, to);
        }
    }

    /** Local files that this user may read but not create. */
    public static class RefusingFileSystem extends org.sparseattention.job.SchemeLocalFileSystem {
        public RefusingFileSystem() {
            super("refusing");
        }

        @Override
        public org.apache.hadoop.fs.FSDataOutputStream create(org.apache.hadoop.fs.Path path,
                org.apache.hadoop.fs.permission.FsPermission permission, boolean overwrite, int bufferSize,
                short replication, long blockSize, org.apache.hadoop.util.Progressable progress) throws IOException {
            throw new org.apache.hadoop.security.AccessControlException("Permission denied: " + path);
        }

        @Override
        public org.apache.hadoop.fs.FSDataOutputStream create(org.apache.hadoop.fs.Path path, boolean overwrite,
                int bufferSize, short replication, long blockSize, org.apache.hadoop.util.Progressable progress)
                throws IOException {
            throw new org.apache.hadoop.security.AccessControlException("Permission denied: " + path);
        }
    }

    private static HadoopStorage storageWith(Class<?> fileSystem, String scheme) {
        org.apache.hadoop.conf.Configuration conf = new org.apache.hadoop.conf.Configuration();
        conf.set("fs." + scheme + ".impl", fileSystem.getName());
        conf.setBoolean("fs." + scheme + ".impl.disable.cache", true);
        return new HadoopStorage(conf);
    }

    @Test
    void aWriteRefusedOrFailedOnTheWaySaysSoInOneLineAndLeavesTheFileAsItWas(@TempDir Path dir) throws IOException {
        Path grid = Files.writeString(dir.resolve("grid.npy"), "old");
        SparseAttentionException failed = assertThrows(SparseAttentionException.class,
                () -> WholeFiles.on(storageWith(CopyingAsideFileSystem.class, "copyaside")).writeWhole("--npy ",
                        List.of("copyaside://" + grid), true, (file, out) -> out.write("new".getBytes())));
        assertFalse(failed instanceof InvalidInputException, "a failure, not bad input");
        assertTrue(failed.getMessage().startsWith("could not write copyaside://" + grid + " (could not move "),
                failed.getMessage());
        assertTrue(failed.getMessage().endsWith("); nothing was written"), failed.getMessage());
        assertEquals("old", Files.readString(grid));
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of("grid.npy"), files.map(f -> f.getFileName().toString()).toList(),
                    "no copy under the aside name, no staged file");
        }
        InvalidInputException refused = assertThrows(InvalidInputException.class,
                () -> WholeFiles.on(storageWith(RefusingFileSystem.class, "refusing")).writeWhole("--npy ",
                        List.of("refusing://" + grid), true, (file, out) -> out.write("new".getBytes())));
        assertTrue(refused.getMessage().startsWith("could not write refusing://" + grid + " (Permission denied: "),
                refused.getMessage());
        assertEquals("old", Files.readString(grid));
    }

    @Test
    void aReplacedFileThatCannotBeDeletedIsReturned(@TempDir Path dir) throws IOException {
        org.apache.hadoop.conf.Configuration conf = new org.apache.hadoop.conf.Configuration();
        conf.set("fs.undeletable.impl", UndeletableAsideFileSystem.class.getName());
        conf.setBoolean("fs.undeletable.impl.disable.cache", true);
        Files.writeString(dir.resolve("grid.npy"), "old");
        List<org.apache.hadoop.fs.Path> left = WholeFiles.on(new HadoopStorage(conf)).writeWhole("--npy ",
                List.of("undeletable://" + dir.resolve("grid.npy")), true, (file, out) -> out.write("new".getBytes()));
        assertEquals("new", Files.readString(dir.resolve("grid.npy")));
        assertEquals(1, left.size(), left.toString());
        assertEquals("old", Files.readString(Path.of(left.get(0).toUri().getPath())));
    }
}
