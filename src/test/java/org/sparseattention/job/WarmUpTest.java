package org.sparseattention.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.Pattern;
import org.sparseattention.plan.Plan;
import org.sparseattention.plan.Planner;

class WarmUpTest {

    @Test
    void runsShuffledAndInPlaceUnitsOverEveryAllowedPairAndLeavesNoFiles(@TempDir Path parent) throws IOException {
        Plan plan = Planner.plan(WarmUp.settings("q", "k", "v", "out"), WarmUp.shape(), 2);
        assertFalse(plan.partitions().isEmpty(), "the warm-up shuffles some units");
        assertTrue(plan.inPlace().stream().anyMatch(units -> !units.isEmpty()), "and computes some in place");
        assertTrue(plan.units().stream().anyMatch(u -> u.toBlock() - u.fromBlock() == 1 && u.frame() == 0),
                "and has single-block units, which do not pack their keys");

        long expected = BlockLayout.of(Pattern.union(Pattern.local(256), Pattern.strided(256)), 2048, 64, 8).stats()
                .totalAllowedPairs();
        assertEquals(expected, WarmUp.runIn(parent));
        try (Stream<Path> left = Files.list(parent)) {
            assertEquals(List.of(), left.toList());
        }
    }

    @Test
    void aWarmUpThatCannotWriteItsInputsOnlyReportsIt(@TempDir Path parent) throws IOException {
        Path file = Files.writeString(parent.resolve("not-a-directory"), "x");
        assertEquals(-1, WarmUp.runIn(file));
        assertEquals("x", Files.readString(file));
    }

    /** A warm-up killed with its JVM leaves its inputs: the next warm-up deletes those of processes gone. */
    @Test
    void directoriesOfProcessesThatEndedAreDeletedAndOthersKept(@TempDir Path parent) throws Exception {
        Process ended = new ProcessBuilder("true").start();
        ended.waitFor();
        Path gone = Files.createDirectories(parent.resolve(WarmUp.PREFIX + ended.pid() + "-123"));
        Files.writeString(gone.resolve("q.npy"), "left by a killed executor");
        Path running = Files.createDirectories(parent.resolve(WarmUp.PREFIX + ProcessHandle.current().pid() + "-456"));
        Files.writeString(running.resolve("q.npy"), "in use");
        Path other = Files.createDirectories(parent.resolve("sparse-attention-warm-upx"));
        Path file = Files.writeString(parent.resolve(WarmUp.PREFIX + "notes"), "mine");
        // A link under a gone process's name is not followed: what it points to stays.
        Path elsewhere = Files.createDirectories(parent.resolve("elsewhere"));
        Path kept = Files.writeString(elsewhere.resolve("keep.txt"), "mine");
        Path link = Files.createSymbolicLink(parent.resolve(WarmUp.PREFIX + ended.pid() + "-789"), elsewhere);
        // A link inside a gone process's directory is not followed either.
        Path linkedDir = Files.createDirectories(parent.resolve(WarmUp.PREFIX + ended.pid() + "-321"));
        Files.createSymbolicLink(linkedDir.resolve("v.npy"), kept);
        // Spark's local directory of a process gone: nested directories of shuffle files, all deleted.
        Path nested = Files.createDirectories(parent.resolve(WarmUp.PREFIX + ended.pid() + "-654/blockmgr-1/0c"));
        Files.writeString(nested.resolve("shuffle_0_1_0.data"), "left by a JVM out of memory");
        ProcessDirs.deleteLeftBehind(parent, WarmUp.PREFIX);
        assertFalse(Files.exists(gone));
        assertFalse(Files.exists(parent.resolve(WarmUp.PREFIX + ended.pid() + "-654")));
        assertEquals("in use", Files.readString(running.resolve("q.npy")));
        assertTrue(Files.isDirectory(other));
        assertEquals("mine", Files.readString(file));
        assertTrue(Files.isSymbolicLink(link));
        assertEquals("mine", Files.readString(kept));
        assertFalse(Files.exists(linkedDir), "the link inside is deleted, not what it points to");
    }
}
