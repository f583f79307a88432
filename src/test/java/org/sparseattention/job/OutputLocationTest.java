package org.sparseattention.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;

/** Putting a finished output in place: what may be replaced, and what is kept when it cannot be. */
class OutputLocationTest {
    /** The location of {@code out} as a run that checks it now finds it. */
    private static OutputLocation location(Path out) throws IOException {
        return new OutputLocation(out.toUri().toString(), new Configuration(), Files.exists(out));
    }

    /** The location of {@code out} through {@code fs}, local files under a scheme of its own. */
    private static OutputLocation location(SchemeLocalFileSystem fs, Path out, boolean existedAtStart)
            throws IOException {
        Configuration conf = new Configuration();
        conf.set("fs." + fs.getScheme() + ".impl", fs.getClass().getName());
        conf.setBoolean("fs." + fs.getScheme() + ".impl.disable.cache", true);
        return new OutputLocation(fs.getScheme() + "://" + out.toUri().getPath(), conf, existedAtStart);
    }

    /** Writes a finished output of this tool (a manifest of its format and one shard) into {@code dir}. */
    private static void finished(Path dir, String shard) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(OutputFiles.MANIFEST), "{ \"format\" : \"" + OutputFiles.FORMAT + "\" }");
        Files.writeString(dir.resolve("output-b00000-r0000000000.npy"), shard);
    }

    private static Path staging(OutputLocation location) {
        return Path.of(location.staging().toUri());
    }

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(file -> file.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aPreviousOutputIsReplacedAndNothingElseIsLeft(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out");
        finished(out, "old");
        OutputLocation location = location(out);
        finished(staging(location), "new");
        location.promote(true);
        assertEquals("new", Files.readString(out.resolve("output-b00000-r0000000000.npy")));
        assertEquals(List.of("out"), names(dir));
    }

    /** A previous output that cannot be deleted once replaced is named, not left hidden without a word. */
    @Test
    void aPreviousOutputThatCannotBeDeletedIsNamed(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out");
        finished(out, "old");
        OutputLocation location = location(new UndeletableAsideFileSystem(), out, true);
        finished(Path.of(location.staging().toUri().getPath()), "new");
        org.apache.hadoop.fs.Path leftOver = location.promote(true);
        assertEquals("new", Files.readString(out.resolve("output-b00000-r0000000000.npy")));
        assertTrue(leftOver != null && leftOver.getName().startsWith(".out.replaced-"), String.valueOf(leftOver));
        assertEquals("old", Files.readString(Path.of(leftOver.toUri().getPath()).resolve("output-b00000-r0000000000.npy")));
        assertEquals(List.of(leftOver.getName(), "out"), names(dir));
        // Deleted as usual: nothing named.
        Path again = dir.resolve("again");
        finished(again, "old");
        OutputLocation deletable = location(again);
        finished(staging(deletable), "new");
        assertNull(deletable.promote(true));
    }

    /** Another run's output that appeared while the job ran is not replaced, even with --overwrite. */
    @Test
    void anOutputThatAppearedWhileTheJobRanIsNotReplacedEvenWithOverwrite(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out");
        OutputLocation location = location(out);
        finished(out, "other run");
        finished(staging(location), "new");
        InvalidInputException refused = assertThrows(InvalidInputException.class, () -> location.promote(true));
        assertTrue(refused.getMessage().contains("appeared while the job ran (another run's output?)"),
                refused.getMessage());
        assertTrue(refused.getMessage().contains(location.staging().toString()), refused.getMessage());
        assertEquals("other run", Files.readString(out.resolve("output-b00000-r0000000000.npy")));
        assertEquals("new", Files.readString(staging(location).resolve("output-b00000-r0000000000.npy")));
        // Appeared after the run checked --out and before the job started: the check's answer counts.
        OutputLocation checkedAbsent = new OutputLocation(out.toUri().toString(), new Configuration(), false);
        finished(staging(checkedAbsent), "newer");
        assertThrows(InvalidInputException.class, () -> checkedAbsent.promote(true));
        assertEquals("other run", Files.readString(out.resolve("output-b00000-r0000000000.npy")));
    }

    /** A failed run into directories it made leaves none of them, but keeps one that something else has written in. */
    @Test
    void aDiscardedRunDeletesTheEmptyDirectoriesItMade(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("results/2024/run1");
        OutputLocation location = location(out);
        finished(staging(location), "half");
        location.discard();
        assertEquals(List.of(), names(dir));

        OutputLocation again = location(out);
        finished(staging(again), "half");
        Files.writeString(dir.resolve("results/notes.txt"), "kept");
        again.discard();
        assertEquals(List.of("notes.txt"), names(dir.resolve("results")));

        Files.createDirectories(dir.resolve("made/before"));
        OutputLocation existing = location(dir.resolve("made/before/out"));
        finished(staging(existing), "half");
        existing.shutDown();
        assertEquals(List.of(), names(dir.resolve("made/before")));
    }

    /** Ctrl-C before the output is in place: the unfinished output goes, the previous one stays. */
    @Test
    void aShutdownBeforeTheOutputIsInPlaceDeletesTheUnfinishedOneAndKeepsThePrevious(@TempDir Path dir)
            throws IOException {
        Path out = dir.resolve("out");
        finished(out, "old");
        OutputLocation location = location(out);
        finished(staging(location), "half");
        location.shutDown();
        assertTrue(location.interrupted());
        assertEquals(List.of("out"), names(dir));
        SparseAttentionException refused = assertThrows(SparseAttentionException.class, () -> location.promote(true));
        assertTrue(refused.getMessage().startsWith("interrupted: --out ") && refused.getMessage().endsWith(" is as it was"),
                refused.getMessage());
        assertEquals("old", Files.readString(out.resolve("output-b00000-r0000000000.npy")));
        // Where there was no output, there is none.
        OutputLocation fresh = location(dir.resolve("new"));
        assertTrue(fresh.interruptedError(null).getMessage().endsWith("/new was not created"));
    }

    /** Ctrl-C while the output is put in place: the shutdown waits for it, and then leaves it be. */
    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void aShutdownWhileTheOutputIsPutInPlaceWaitsForIt(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("out");
        finished(out, "old");
        BlockingRenameFileSystem.renaming = new CountDownLatch(1);
        BlockingRenameFileSystem.proceed = new CountDownLatch(1);
        OutputLocation location = location(new BlockingRenameFileSystem(), out, true);
        finished(Path.of(location.staging().toUri().getPath()), "new");
        Thread promote = new Thread(() -> {
            try {
                location.promote(true);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        promote.setDaemon(true);
        promote.start();
        BlockingRenameFileSystem.renaming.await();
        // The previous output is being moved aside: the shutdown must wait for the whole move.
        Thread hook = new Thread(location::shutDown);
        hook.start();
        while (hook.getState() != Thread.State.BLOCKED) {
            assertTrue(hook.isAlive(), "the shutdown ran while the output was being put in place");
            Thread.sleep(1);
        }
        BlockingRenameFileSystem.proceed.countDown();
        promote.join();
        hook.join();
        assertFalse(location.interrupted());
        assertEquals("new", Files.readString(out.resolve("output-b00000-r0000000000.npy")));
        assertEquals(List.of("out"), names(dir));
    }

    @Test
    void anOutputThatAppearedWhileTheJobRanIsKeptAndSoIsTheNewOne(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out");
        OutputLocation location = location(out);
        finished(staging(location), "new");
        Files.createDirectories(out);
        Files.writeString(out.resolve("thesis.txt"), "mine");
        InvalidInputException refused = assertThrows(InvalidInputException.class, () -> location.promote(false));
        // --overwrite would not replace a directory holding a file of the user's: not suggested.
        assertTrue(refused.getMessage().contains("appeared while the job ran and holds thesis.txt, which this tool does"
                + " not write: not replacing it."), refused.getMessage());
        assertFalse(refused.getMessage().contains("pass --overwrite"), refused.getMessage());
        InvalidInputException overwriting = assertThrows(InvalidInputException.class, () -> location.promote(true));
        assertTrue(overwriting.getMessage().contains("appeared while the job ran (another run's output?)"),
                overwriting.getMessage());
        assertTrue(overwriting.getMessage().contains(location.staging().toString()), overwriting.getMessage());
        location.discard();
        assertEquals("mine", Files.readString(out.resolve("thesis.txt")));
        assertEquals(List.of("thesis.txt"), names(out));
        assertEquals("new", Files.readString(staging(location).resolve("output-b00000-r0000000000.npy")),
                "the finished output stays where the message says");
    }

    /** A previous output that gets a file of the user's while the job runs is not replaced. */
    @Test
    void aPreviousOutputThatGotAUsersFileIsNotReplaced(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out");
        finished(out, "old");
        OutputLocation location = location(out);
        finished(staging(location), "new");
        Files.writeString(out.resolve("thesis.txt"), "mine");
        InvalidInputException changed = assertThrows(InvalidInputException.class, () -> location.promote(true));
        assertTrue(changed.getMessage().contains("changed while the job ran and now holds thesis.txt"), changed.getMessage());
        assertTrue(changed.getMessage().contains(location.staging().toString()), changed.getMessage());
        assertEquals("mine", Files.readString(out.resolve("thesis.txt")));
        assertEquals("old", Files.readString(out.resolve("output-b00000-r0000000000.npy")));
    }

    /** Two runs on one new --out: the one that finishes second is refused as bad usage, its output kept. */
    @Test
    void anOutputThatAppearsJustBeforeTheRenameIsRefusedAsBadUsage(@TempDir Path dir) throws IOException {
        OutputLocation location = location(new AppearingFileSystem(), dir.resolve("out"), false);
        finished(Path.of(location.staging().toUri().getPath()), "new");
        InvalidInputException refused = assertThrows(InvalidInputException.class, () -> location.promote(false));
        assertTrue(refused.getMessage().contains("appeared while the job ran"), refused.getMessage());
        location.discard();
        assertEquals(List.of(), names(dir.resolve("out")), "the other run's output is left alone");
        assertEquals("new", Files.readString(Path.of(location.staging().toUri().getPath())
                .resolve("output-b00000-r0000000000.npy")), "the finished output stays where the message says");
    }

    @Test
    void aPreviousOutputIsMovedBackWhenTheNewOneCannotTakeItsPlace(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out");
        finished(out, "old");
        OutputLocation location = location(out);
        // No staging directory: the rename into place fails after the previous output was moved aside.
        SparseAttentionException failed = assertThrows(SparseAttentionException.class, () -> location.promote(true));
        assertTrue(failed.getMessage().contains("the previous output is back in place"), failed.getMessage());
        assertEquals("old", Files.readString(out.resolve("output-b00000-r0000000000.npy")));
        assertEquals(List.of("out"), names(dir), "no directory left aside");
    }

    @Test
    void onlyEmptyDirectoriesAndThisToolsOutputsAreReplaceable(@TempDir Path dir) throws IOException {
        org.apache.hadoop.fs.FileSystem fs = location(dir.resolve("x")).fileSystem();
        Path empty = Files.createDirectories(dir.resolve("empty"));
        Path tool = dir.resolve("tool");
        finished(tool, "old");
        Files.writeString(tool.resolve(OutputFiles.SUCCESS), "");
        Files.writeString(tool.resolve("lse-b123456-r0000000064.npy"), "");
        Path added = dir.resolve("added");
        finished(added, "old");
        Files.writeString(added.resolve("notes.txt"), "mine");
        Path other = Files.createDirectories(dir.resolve("other"));
        Files.writeString(other.resolve(OutputFiles.MANIFEST), "{ \"format\" : \"something else\" }");
        Path file = Files.writeString(dir.resolve("file"), "mine");
        // A directory under one of the tool's names may hold anything: replacing it would delete that.
        Path nested = dir.resolve("nested");
        finished(nested, "old");
        Files.writeString(Files.createDirectories(nested.resolve(OutputFiles.MERGED)).resolve("mine.txt"), "mine");
        Path manifestDirectory = Files.createDirectories(dir.resolve("manifest-directory"));
        Files.createDirectories(manifestDirectory.resolve(OutputFiles.MANIFEST));
        assertEquals("holds " + OutputFiles.MERGED + " as a directory, where this tool writes a file",
                InputFiles.whyNotReplaceable(fs, hadoop(nested)));
        assertEquals("holds " + OutputFiles.MANIFEST + " as a directory, where this tool writes a file",
                InputFiles.whyNotReplaceable(fs, hadoop(manifestDirectory)));
        assertEquals(null, InputFiles.whyNotReplaceable(fs, hadoop(empty)));
        assertEquals(null, InputFiles.whyNotReplaceable(fs, hadoop(tool)));
        assertEquals("holds notes.txt, which this tool does not write", InputFiles.whyNotReplaceable(fs, hadoop(added)));
        assertTrue(InputFiles.whyNotReplaceable(fs, hadoop(other)).startsWith("is not an output of this tool"));
        assertEquals("is a file, not an output of this tool", InputFiles.whyNotReplaceable(fs, hadoop(file)));
        assertFalse(OutputFiles.isOwnName("output-b0000-r0000000000.npy"), "shard names have at least 5 digits");
    }

    /**
     * What Hadoop's local file system cannot look at is not taken for absent: a directory whose
     * entries it leaves out of a listing (no search permission), a manifest it may not open (it
     * says "not found").
     */
    @Test
    void whatCannotBeLookedAtIsNotReplaceable(@TempDir Path dir) throws IOException {
        org.apache.hadoop.fs.FileSystem fs = location(dir.resolve("x")).fileSystem();
        Path tool = dir.resolve("tool");
        finished(tool, "old");
        org.apache.hadoop.fs.FileSystem blind = new org.apache.hadoop.fs.FilterFileSystem(fs) {
            @Override
            public org.apache.hadoop.fs.FileStatus[] listStatus(org.apache.hadoop.fs.Path f) {
                return new org.apache.hadoop.fs.FileStatus[0];
            }

            @Override
            public org.apache.hadoop.fs.FSDataInputStream open(org.apache.hadoop.fs.Path f) throws IOException {
                throw new java.io.FileNotFoundException(f + " (Permission denied)");
            }
        };
        String unlisted = InputFiles.whyNotReplaceable(blind, hadoop(tool));
        assertTrue(unlisted.startsWith("cannot be read to check that it is an output of this tool (its entry "),
                unlisted);
        org.apache.hadoop.fs.FileSystem unreadable = new org.apache.hadoop.fs.FilterFileSystem(fs) {
            @Override
            public org.apache.hadoop.fs.FSDataInputStream open(org.apache.hadoop.fs.Path f) throws IOException {
                throw new java.io.FileNotFoundException(f + " (Permission denied)");
            }
        };
        String closed = InputFiles.whyNotReplaceable(unreadable, hadoop(tool));
        assertTrue(closed.startsWith("cannot be read to check") && closed.contains("(Permission denied)"), closed);
        assertEquals(null, InputFiles.whyNotReplaceable(fs, hadoop(tool)), "the same directory, readable");
    }

    private static org.apache.hadoop.fs.Path hadoop(Path path) {
        return new org.apache.hadoop.fs.Path(path.toUri());
    }
}
