package org.sparseattention.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.sparseattention.TestArrays;
import org.sparseattention.job.SparkSetup;

/** The command line as a user meets it: exit status, messages, files written or not. */
class CliTest {
    @TempDir
    Path dir;

    /** The exit status and what the command printed. */
    record Outcome(int status, String out, String err) {
    }

    static Outcome run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true));
            System.setErr(new PrintStream(err, true));
            int status = Main.execute(args);
            return new Outcome(status, out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void benchPrintsAndWritesEachPatternsFiguresAgainstTheCeiling() throws IOException {
        Path json = dir.resolve("bench.json");
        Outcome o = run("bench", "--seq-len", "1000", "--all-seq-len", "256", "--local-ctx", "64", "--heads", "4",
                "--head-dim", "16", "--block-size", "16", "--repetitions", "1", "--ceiling-size", "128", "--profile",
                "--json", json.toString());
        assertEquals(0, o.status(), o.err());
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        double ceiling = root.get("ceiling_gflops").asDouble();
        assertTrue(ceiling > 0, o.out());
        // Everything the figures depend on, so that runs with other settings can be told apart.
        assertEquals(Main.VERSION, root.get("tool").asText());
        assertEquals(128, root.get("ceiling_size").asInt());
        assertEquals(4, root.get("num_verts").asInt());
        assertEquals(1, root.get("vertsize").asInt());
        assertEquals(1, root.get("repetitions").asInt());
        JsonNode patterns = root.get("patterns");
        String[] names = {"local", "strided", "local+strided", "fixed", "all"};
        assertEquals(names.length, patterns.size());
        for (int p = 0; p < names.length; p++) {
            JsonNode row = patterns.get(p);
            assertEquals(names[p], row.get("pattern").asText());
            assertEquals(names[p].equals("all") ? 256 : 1000, row.get("seq_len").asInt());
            double seconds = row.get("seconds").asDouble();
            assertTrue(seconds > 0, row.toString());
            assertEquals(row.get("useful_gflop").asDouble() / seconds, row.get("gflops").asDouble(), 1e-9 * ceiling);
            assertEquals(row.get("gflops").asDouble() / ceiling, row.get("ratio").asDouble(), 1e-9);
            row.get("thread_seconds_by_phase").forEach(phase -> assertTrue(phase.asDouble() >= 0, row.toString()));
            assertTrue(row.get("thread_seconds_by_phase").has("other"), "the profile's line has it: " + row);
            assertTrue(o.out().contains(String.format("%-16s %9d", names[p], row.get("seq_len").asInt())), o.out());
        }
        // local: query i has min(i + 1, l) keys; each pair costs 4 D useful flops, in each of 4 heads.
        long pairs = 0;
        for (int i = 0; i < 1000; i++) {
            pairs += Math.min(i + 1, 64);
        }
        assertEquals(4.0 * 16 * 4 * pairs / 1e9, patterns.get(0).get("useful_gflop").asDouble(), 1e-15);
        // all: every key up to the query's own.
        assertEquals(4.0 * 16 * 4 * (256L * 257 / 2) / 1e9, patterns.get(4).get("useful_gflop").asDouble(), 1e-15);
        // A ceiling this small may run below the kernel: said where, and only where, a ratio passes 1.
        boolean above = false;
        for (JsonNode row : patterns) {
            above |= row.get("ratio").asDouble() > 1;
        }
        assertEquals(above, o.err().contains("note: a ratio above 1: the ceiling's 128^3 products ran slower"), o.err());
    }

    @Test
    void layoutPrintsTheGridAndFigures() throws IOException {
        Path npy = dir.resolve("grid.npy");
        Outcome o = run("layout", "--seq-len", "128", "--heads", "2", "--mode", "local", "--local-ctx", "32",
                "--block-size", "8", "--npy", npy.toString());
        assertEquals(0, o.status(), o.err());
        assertTrue(o.out().contains("head 0: 70 of 256 blocks"), o.out());
        // A union's second frame is counted; when the first computes all of its pairs, that is said.
        Outcome union = run("layout", "--seq-len", "128", "--heads", "1", "--mode", "local+strided", "--local-ctx",
                "32", "--block-size", "8");
        assertEquals(0, union.status(), union.err());
        assertTrue(union.out().contains(", 1 head, 2 frames\n"), union.out());
        // fixed with one block per window allows every earlier key: strided has nothing left.
        Outcome emptied = run("layout", "--seq-len", "100", "--heads", "2", "--mode", "fixed+strided", "--local-ctx",
                "16", "--block-size", "16", "--num-verts", "1");
        assertEquals(0, emptied.status(), emptied.err());
        assertTrue(emptied.out().contains(", 2 heads, 2 frames (1 with tiles: an earlier frame computes every pair"
                + " of the others)\n"), emptied.out());
        // Longer than grids are computed for: said.
        Outcome longer = run("layout", "--seq-len", "20000", "--heads", "1", "--mode", "local", "--local-ctx", "64");
        assertEquals(0, longer.status(), longer.err());
        assertTrue(longer.out().contains("(no grids, nor blocks that hold allowed pairs: computed for --seq-len up to"
                + " 16384)"), longer.out());
        // One of everything, counted in the singular.
        Outcome one = run("layout", "--seq-len", "1", "--heads", "1", "--mode", "all");
        assertEquals(0, one.status(), one.err());
        assertTrue(one.out().contains("head 0: 1 of 1 block holds allowed pairs (100.0%); 1 tile computed")
                && one.out().contains("total: 1 tile, 1 allowed pair, "), one.out());
        // More blocks than a grid prints: said, and --npy offered (l = 32 over blocks of 16: each query block
        // meets its own and the two before it, 65 + 64 + 63 blocks).
        Outcome wide = run("layout", "--seq-len", "1040", "--heads", "1", "--mode", "local", "--local-ctx", "32",
                "--block-size", "16");
        assertEquals(0, wide.status(), wide.err());
        assertTrue(wide.out().contains("head 0: 192 of 4225 blocks hold allowed pairs")
                && wide.out().contains("(grids printed up to 64 x 64 blocks; --npy FILE writes them all)"), wide.out());
        assertTrue(o.out().contains("total: 140 tiles"), o.out());
        assertFalse(o.err().contains("note:"), o.err());
        Outcome dense = run("layout", "--seq-len", "128", "--heads", "2", "--mode", "local", "--block-size", "8");
        assertEquals(0, dense.status(), dense.err());
        assertTrue(dense.err().contains("note: --local-ctx 0: 'local' attends every earlier position"), dense.err());
        // A refused command says only why.
        Outcome refused = run("layout", "--seq-len", "128", "--heads", "3", "--mode", "local,fixed", "--block-size", "8");
        assertEquals(2, refused.status(), refused.err());
        assertFalse(refused.err().contains("note:"), refused.err());
        // Too many tiles to count one by one (5.6e14 for `all` here: days): refused at once. `local` at a
        // length as long counts 5 tiles a row, and is counted.
        Outcome huge = run("layout", "--seq-len", "2147483647", "--heads", "1", "--mode", "all");
        assertEquals(2, huge.status(), huge.err());
        assertTrue(huge.err().contains("--seq-len 2147483647 at --block-size 64, --heads 1: more than the"
                + " 4000000000 tiles and pairs layout counts one by one"), huge.err());
        // `strided` at a stride of 32 blocks: each class's first block has one tile, where an even sample lands.
        Outcome strided = run("layout", "--seq-len", "2147483647", "--heads", "1", "--mode", "strided", "--local-ctx",
                "32", "--block-size", "64");
        assertEquals(2, strided.status(), strided.err());
        Outcome long_ = run("layout", "--seq-len", "200000000", "--heads", "1", "--mode", "local", "--local-ctx", "256");
        assertEquals(0, long_.status(), long_.err());
        assertTrue(long_.out().contains("total: 15624990 tiles"), long_.out());
        assertTrue(o.out().contains("  +###+..........."), o.out());
        byte[] bytes = Files.readAllBytes(npy);
        int dataOffset = 10 + ((bytes[8] & 0xff) | (bytes[9] & 0xff) << 8);
        String header = new String(bytes, 10, dataOffset - 10, java.nio.charset.StandardCharsets.US_ASCII);
        assertTrue(header.contains("'descr': '|u1'") && header.contains("'shape': (2, 16, 16)"), header);
        assertEquals(dataOffset + 2 * 16 * 16, bytes.length);
        int covered = 0;
        for (int i = dataOffset; i < bytes.length; i++) {
            covered += bytes[i] != 0 ? 1 : 0;
        }
        assertEquals(140, covered);
        assertEquals(2, run("layout", "--seq-len", "128", "--heads", "2", "--mode", "local", "--local-ctx", "32",
                "--npy", npy.toString()).status(), "an existing --npy is not replaced without --overwrite");
        // A replacement that cannot be written leaves the existing file as it was.
        Files.createDirectories(dir.resolve(".grid.npy.partial/blocked"));
        Outcome blocked = run("layout", "--seq-len", "128", "--heads", "2", "--mode", "all", "--block-size", "8",
                "--npy", npy.toString(), "--overwrite");
        assertEquals(2, blocked.status(), blocked.err());
        assertTrue(blocked.err().contains(".grid.npy.partial is in the way of writing"), blocked.err());
        assertTrue(Files.isDirectory(dir.resolve(".grid.npy.partial/blocked")), "what is in the way is left alone");
        assertArrayEquals(bytes, Files.readAllBytes(npy));
        Files.delete(dir.resolve(".grid.npy.partial/blocked"));
        Files.delete(dir.resolve(".grid.npy.partial"));
        assertEquals(0, run("layout", "--seq-len", "128", "--heads", "2", "--mode", "all", "--block-size", "8",
                "--npy", npy.toString(), "--overwrite").status());
        assertEquals(dataOffset + 2 * 16 * 16, Files.size(npy));
        assertFalse(Files.exists(dir.resolve(".grid.npy.partial")));
        // A directory at --npy is never replaced, even with --overwrite, and is refused before any work.
        Files.createDirectories(dir.resolve("grids/mine"));
        Outcome directory = run("layout", "--seq-len", "128", "--heads", "2", "--mode", "all", "--npy",
                dir.resolve("grids").toString(), "--overwrite");
        assertEquals(2, directory.status(), directory.err());
        assertTrue(directory.err().contains("grids is a directory: not replacing it"), directory.err());
        assertFalse(directory.out().contains("layout:"), directory.out());
        assertTrue(Files.isDirectory(dir.resolve("grids/mine")));
        try (Stream<Path> left = Files.list(dir)) {
            assertEquals(List.of(), left.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".grids"))
                    .toList(), "nothing moved aside");
        }
    }

    @Test
    void benchReadsSpacedPatternsAsTheirNamesAndRefusesBadSizes() throws IOException {
        Path json = dir.resolve("spaced.json");
        Outcome o = run("bench", "--patterns", " all ,local", "--seq-len", "2048", "--all-seq-len", "128",
                "--local-ctx", "32", "--heads", "2", "--head-dim", "8", "--block-size", "16", "--repetitions", "2",
                "--ceiling-size", "64", "--json", json.toString());
        assertEquals(0, o.status(), o.err());
        JsonNode first = new ObjectMapper().readTree(json.toFile()).get("patterns").get(0);
        assertEquals("all", first.get("pattern").asText());
        assertEquals(128, first.get("seq_len").asInt(), "'all' runs at --all-seq-len whatever the spacing");
        String[][] cases = {{"--block-size", "0", "--block-size must be >= 1, got 0"},
            {"--threads", "-2", "--threads must be between 0 (all cores) and the "},
            {"--threads", "1000", "cores of this machine, got 1000"}};
        for (String[] c : cases) {
            Outcome bad = run("bench", "--patterns", "local", c[0], c[1]);
            assertEquals(2, bad.status(), bad.err());
            assertTrue(bad.err().contains(c[2]), "'" + bad.err() + "' lacks '" + c[2] + "'");
        }
        Outcome dense = run("bench", "--patterns", "local", "--local-ctx", "0", "--all-seq-len", "256", "--heads", "2",
                "--head-dim", "8", "--block-size", "16", "--repetitions", "1", "--ceiling-size", "64");
        assertEquals(0, dense.status(), dense.err());
        assertTrue(dense.err().contains("note: --local-ctx 0: 'local' attends every earlier position"), dense.err());
        assertTrue(dense.err().contains("note: --repetitions 1 times one run per pattern"), dense.err());
        assertFalse(o.err().contains("note: --repetitions"), o.err());
        assertEquals("note: fixed's timed runs took from 0.010 to 0.016 s: more --repetitions, or longer sequences,"
                + " give steadier figures", BenchCommand.spread("fixed", new double[] {0.016, 0.01, 0.012}));
        assertEquals(null, BenchCommand.spread("fixed", new double[] {0.015, 0.01}));
        assertEquals(2.5, BenchCommand.median(new double[] {4, 1, 2, 3}));
        assertEquals(3.0, BenchCommand.median(new double[] {5, 3, 1}));
    }

    /** generate and layout --npy write through file systems the launcher's settings file configures, as run. */
    @Test
    void generateAndLayoutUseTheSettingsFilesHadoopEntries() throws IOException {
        Path settings = Files.writeString(dir.resolve("spark.properties"),
                "spark.hadoop.fs.appearing.impl=org.sparseattention.job.AppearingFileSystem\n"
                        + "spark.hadoop.fs.appearing.impl.disable.cache=true\n");
        String[] generate = {"generate", "--out", "appearing://" + dir.resolve("gen"), "--seq-len", "8", "--dim", "4"};
        String[] layout = {"layout", "--seq-len", "64", "--heads", "1", "--mode", "all", "--block-size", "16", "--npy",
            "appearing://" + dir.resolve("grid.npy")};
        assertEquals(2, run(generate).status(), "no file system for the scheme without the settings file");
        String property = "sparseattention.sparkSettings";
        System.setProperty(property, settings.toString());
        try {
            Outcome generated = run(generate);
            assertEquals(0, generated.status(), generated.err());
            Outcome grid = run(layout);
            assertEquals(0, grid.status(), grid.err());
        } finally {
            System.clearProperty(property);
        }
        assertTrue(Files.isRegularFile(dir.resolve("gen/v.npy")));
        assertTrue(Files.isRegularFile(dir.resolve("grid.npy")));
    }

    /** {@code link/..} as --out: the files go where the shell would put them, the parent of the link's target. */
    @Test
    void generateResolvesDotDotAfterASymbolicLinkAsTheShellDoes() throws IOException {
        Path target = Files.createDirectories(dir.resolve("a/b"));
        Path link = Files.createSymbolicLink(Files.createDirectories(dir.resolve("c")).resolve("link"), target);
        Outcome generated = run("generate", "--out", link + "/..", "--seq-len", "8", "--dim", "4");
        assertEquals(0, generated.status(), generated.err());
        for (String name : new String[] {"q.npy", "k.npy", "v.npy"}) {
            assertTrue(Files.isRegularFile(dir.resolve("a").resolve(name)), name);
            assertFalse(Files.exists(dir.resolve("c").resolve(name)), name);
        }
    }

    @Test
    void aNumberOutOfRangeIsRefusedNamingTheBoundItPasses() {
        Outcome big = run("layout", "--seq-len", "99999999999", "--heads", "2", "--mode", "all");
        assertEquals(2, big.status(), big.err());
        assertTrue(big.err().contains("Invalid value for option '--seq-len': '99999999999' is more than 2147483647,"
                + " the largest whole number this option can hold"), big.err());
        Outcome small = run("verify", "--seq-len", "8", "--heads", "1", "--mode", "all",
                "--seed", "-9223372036854775809");
        assertEquals(2, small.status(), small.err());
        assertTrue(small.err().contains("Invalid value for option '--seed': '-9223372036854775809' is less than"
                + " -9223372036854775808, the smallest whole number this option can hold"), small.err());
        Outcome hex = run("layout", "--seq-len", "0x10", "--heads", "2", "--mode", "all");
        assertEquals(2, hex.status(), hex.err());
        assertTrue(hex.err().contains("'0x10' is not a whole number"), hex.err());
        // What picocli's own reading takes still reads the same.
        Outcome signed = run("layout", "--seq-len", "+016", "--heads", "2", "--mode", "all", "--block-size", "8");
        assertEquals(0, signed.status(), signed.err());
        assertTrue(signed.out().contains("L=16"), signed.out());
    }

    @Test
    void layoutAndVerifyNameTheOptionOfASizeBelowOne() {
        String[][] cases = {
            {"layout", "--seq-len", "0", "--heads", "2", "--mode", "local", "--local-ctx", "8"},
            {"layout", "--seq-len", "64", "--heads", "0", "--mode", "local", "--local-ctx", "8"},
            {"layout", "--seq-len", "64", "--heads", "2", "--mode", "local", "--local-ctx", "8", "--block-size", "0"},
            {"verify", "--seq-len", "64", "--heads", "0", "--mode", "all"},
            {"verify", "--seq-len", "64", "--heads", "2", "--mode", "all", "--block-size", "-3"},
            // Refused whatever the mode, as run refuses them.
            {"layout", "--seq-len", "64", "--heads", "2", "--mode", "local", "--local-ctx", "8", "--num-verts", "0"},
            {"verify", "--seq-len", "64", "--heads", "2", "--mode", "all", "--vertsize", "0"},
        };
        String[] named = {"--seq-len must be >= 1, got 0", "--heads must be >= 1, got 0",
            "--block-size must be >= 1, got 0", "--heads must be >= 1, got 0", "--block-size must be >= 1, got -3",
            "--num-verts must be >= 1, got 0", "--vertsize must be >= 1, got 0"};
        for (int i = 0; i < cases.length; i++) {
            Outcome o = run(cases[i]);
            assertEquals(2, o.status(), String.join(" ", cases[i]) + ": " + o.err());
            assertTrue(o.err().contains(named[i]), "'" + o.err() + "' lacks '" + named[i] + "'");
        }
    }

    /** A per-head list whose count does not divide --heads says which heads each item takes. */
    @Test
    void aPerHeadListThatDoesNotFitTheHeadsIsNoted() {
        String[] layout = {"layout", "--seq-len", "64", "--block-size", "16", "--local-ctx", "16"};
        Outcome uneven = run(concat(layout, "--heads", "3", "--mode", "local,strided"));
        assertEquals(0, uneven.status(), uneven.err());
        assertTrue(uneven.err().contains("note: --mode lists 2 per-head patterns for 3 heads (head h takes item h mod 2):"
                + " 'local' heads 0, 2; 'strided' head 1"), uneven.err());
        Outcome unused = run(concat(layout, "--heads", "2", "--mode", "local,strided,all"));
        assertEquals(0, unused.status(), unused.err());
        assertTrue(unused.err().contains("note: --mode lists 3 per-head patterns for 2 heads (head h takes item h mod 3):"
                + " 'local' head 0; 'strided' head 1; 'all' no head"), unused.err());
        Outcome even = run(concat(layout, "--heads", "4", "--mode", "local,strided"));
        assertEquals(0, even.status(), even.err());
        assertFalse(even.err().contains("note:"), even.err());
    }

    /** Arrays the heap cannot hold are refused before any is made, rather than ending in the JVM's OutOfMemoryError. */
    @Test
    void verifyRefusesArraysLargerThanTheHeap() {
        // 8192 x 32768 values: 16 + 8 bytes each and 12 per log-sum-exp, 6.4 GB, past the suite's 3g heap.
        Outcome o = run("verify", "--batch", "1", "--seq-len", "8192", "--heads", "1", "--head-dim", "32768",
                "--mode", "local", "--local-ctx", "64");
        assertEquals(2, o.status(), o.err());
        assertTrue(o.err().contains("--batch x --seq-len x --heads x --head-dim = 268435456 values: q, k, v, the output"
                + " and the float64 reference need 6442549248 bytes, more than the "), o.err());
        assertTrue(o.out().isEmpty(), o.out());
    }

    @Test
    void verifyComparesTheKernelWithTheReference() {
        Outcome o = run("verify", "--seq-len", "150", "--heads", "2", "--head-dim", "8", "--mode", "local+strided",
                "--local-ctx", "12", "--block-size", "16");
        assertEquals(0, o.status(), o.err());
        assertTrue(o.out().contains(", whole: output relative error"), o.out());
        // Rows of up to 10 key blocks split into chunks of 1 and 3, merged: still within the tolerance.
        for (String chunk : new String[] {"1", "3"}) {
            Outcome split = run("verify", "--seq-len", "150", "--heads", "4", "--head-dim", "8", "--mode", "fixed,all",
                    "--local-ctx", "32", "--block-size", "16", "--num-verts", "2", "--max-key-blocks", chunk);
            assertEquals(0, split.status(), split.err());
            // all's last block of 10 rows has 10 key blocks.
            assertTrue(split.out().contains("block 16, rows of up to 10 key blocks in chunks of " + chunk + " block"
                    + (chunk.equals("1") ? "" : "s") + ": output relative error"), split.out());
        }
        // A scale of the user's, as run takes it; a negative one too (the reference uses the same float32).
        Outcome scaled = run("verify", "--seq-len", "150", "--heads", "2", "--head-dim", "8", "--mode", "local+strided",
                "--local-ctx", "12", "--block-size", "16", "--scale", "-0.3");
        assertEquals(0, scaled.status(), scaled.err());
        assertTrue(scaled.out().contains("block 16 scale -0.3, rows of up to"), scaled.out());
        Outcome badScale = run("verify", "--seq-len", "150", "--heads", "2", "--mode", "all", "--scale", "NaN");
        assertEquals(2, badScale.status(), badScale.err());
        assertTrue(badScale.err().contains("--scale must be a finite number, got NaN"), badScale.err());
        Outcome zero = run("verify", "--seq-len", "150", "--heads", "2", "--mode", "all", "--max-key-blocks", "0");
        assertEquals(2, zero.status(), zero.err());
        assertTrue(zero.err().contains("--max-key-blocks"), zero.err());
        Outcome strict = run("verify", "--seq-len", "150", "--heads", "2", "--head-dim", "8", "--mode", "all",
                "--block-size", "16", "--tolerance", "0");
        assertEquals(1, strict.status(), "float32 cannot match float64 exactly: " + strict.out());
        assertTrue(strict.out().contains(" (tolerance 0)"), strict.out());
        // One token: the output is its value row, exactly; an exact zero is printed as such.
        Outcome one = run("verify", "--seq-len", "1", "--heads", "1", "--head-dim", "3", "--mode", "all");
        assertEquals(0, one.status(), one.err());
        assertTrue(one.out().contains("output relative error 0, log-sum-exp "), one.out());
        // The reference's every pair, over the bound: refused at once rather than computed for many minutes.
        Outcome large = run("verify", "--seq-len", "50000", "--heads", "2", "--batch", "1", "--mode", "local",
                "--local-ctx", "8");
        assertEquals(2, large.status(), large.err());
        assertTrue(large.err().contains("--batch x --heads x --seq-len^2 = 1 x 2 x 50000^2 = 5.00e+09 pairs for the"
                + " float64 reference to check, more than the 4000000000 verify takes"), large.err());
    }

    @Test
    void benchAndVerifyRefuseSizesNoArrayHoldsAndUnknownPatternsBeforeMeasuring() {
        Outcome big = run("bench", "--seq-len", "1048576", "--heads", "16", "--head-dim", "128", "--patterns", "local");
        Outcome unknown = run("bench", "--patterns", "local,nonsense");
        // An empty item, last included, as layout's and verify's --mode refuse one.
        Outcome trailing = run("bench", "--patterns", "local,");
        Outcome doubled = run("bench", "--patterns", "local,,strided");
        Outcome wrapped = run("verify", "--seq-len", "65536", "--heads", "65536", "--head-dim", "65536", "--mode", "all");
        Outcome wide = run("verify", "--seq-len", "50000", "--heads", "1", "--head-dim", "1", "--mode", "all",
                "--block-size", "50000");
        Outcome wideBench = run("bench", "--seq-len", "50000", "--heads", "1", "--head-dim", "1", "--patterns",
                "local", "--local-ctx", "50000", "--block-size", "50000");
        for (Outcome o : List.of(big, unknown, trailing, doubled, wrapped, wide, wideBench)) {
            assertEquals(2, o.status(), o.err());
            assertFalse(o.out().contains("ceiling"), "refused before the ceiling is measured: " + o.out());
            assertFalse(o.err().contains("\tat "), "no stack trace: " + o.err());
        }
        assertTrue(big.err().contains("expected at most 2147483639 elements in one array, got 1048576 x 16 x 128"
                + " = 2147483648"), big.err());
        assertTrue(unknown.err().contains("nonsense"), unknown.err());
        assertTrue(trailing.err().contains("--patterns 'local,': an item is empty, expected pattern names on both sides"
                + " of each ,"), trailing.err());
        assertTrue(doubled.err().contains("--patterns 'local,,strided': an item is empty"), doubled.err());
        // 65536 x 65536 wraps to 0 in int arithmetic: the product must be taken whole.
        assertTrue(wrapped.err().contains("got 2 x 65536 x 65536 x 65536 = 562949953421312"), wrapped.err());
        // A block's scores against itself: 50000 x 50000 values, no array holds them.
        for (Outcome o : List.of(wide, wideBench)) {
            assertTrue(o.err().contains("block size (--block-size) 50000: the scores of a block's 50000 rows"), o.err());
        }
        Outcome ceiling = run("bench", "--ceiling-size", "0");
        assertEquals(2, ceiling.status(), ceiling.err());
        assertTrue(ceiling.err().contains("--ceiling-size must be >= 1, got 0"), ceiling.err());
        // Sizes arrays can hold but memory cannot: refused before anything is allocated.
        Outcome huge = run("bench", "--ceiling-size", "40000", "--threads", "1", "--patterns", "local");
        Outcome long_ = run("bench", "--seq-len", "1048576", "--heads", "8", "--head-dim", "64", "--patterns", "local",
                "--ceiling-size", "64");
        Outcome dense = run("bench", "--all-seq-len", "1048576", "--heads", "8", "--head-dim", "64", "--patterns", "all",
                "--ceiling-size", "64");
        for (Outcome o : List.of(huge, long_, dense)) {
            assertEquals(2, o.status(), o.err());
            assertFalse(o.out().contains("ceiling"), "refused before the ceiling is measured: " + o.out());
        }
        assertTrue(dense.err().contains("choose a smaller --all-seq-len, --heads or --head-dim"), dense.err());
        assertTrue(long_.err().contains("choose a smaller --seq-len, --heads or --head-dim"), long_.err());
        assertTrue(huge.err().contains("--ceiling-size 40000: the ceiling's products need 19200000000 bytes"),
                huge.err());
        assertTrue(long_.err().contains("--patterns 'local' at L=1048576: q, k, v and the output need 8623489024 bytes"),
                long_.err());
    }

    /** l <= 0 means every earlier position: bench measures it as such (its warm-up once had no rows). */
    @Test
    void benchMeasuresLocalWithAWindowOfZero() {
        Outcome o = run("bench", "--seq-len", "300", "--all-seq-len", "64", "--local-ctx", "0", "--heads", "2",
                "--head-dim", "8", "--block-size", "16", "--repetitions", "1", "--ceiling-size", "64", "--patterns",
                "local,all");
        assertEquals(0, o.status(), o.err());
        // Dense, as `all` is: at --all-seq-len.
        assertTrue(o.out().contains(String.format("%-16s %9d", "local", 64)), o.out());
        assertTrue(o.out().contains(String.format("%-16s %9d", "all", 64)), o.out());
    }

    @Test
    void benchRefusesItsJsonFileAndFixedsHeadsBeforeMeasuring() throws IOException {
        Path mine = Files.writeString(dir.resolve("mine.json"), "my notes");
        String[] small = {"bench", "--seq-len", "256", "--all-seq-len", "64", "--local-ctx", "64",
            "--head-dim", "8", "--block-size", "16", "--repetitions", "1", "--ceiling-size", "64"};
        Outcome existing = run(concat(small, "--heads", "4", "--json", mine.toString()));
        Outcome nowhere = run(concat(small, "--heads", "4", "--json", mine.resolve("x.json").toString()));
        Outcome heads = run(concat(small, "--heads", "2"));
        Path leftBehind = Files.writeString(dir.resolve(".blocked.json.partial"), "a killed run's");
        Outcome blocked = run(concat(small, "--heads", "4", "--json", dir.resolve("blocked.json").toString()));
        Files.delete(leftBehind);
        for (Outcome o : List.of(existing, nowhere, heads, blocked)) {
            assertEquals(2, o.status(), o.err());
            assertFalse(o.out().contains("ceiling"), "refused before the ceiling is measured: " + o.out());
        }
        assertTrue(existing.err().contains("mine.json already exists: pass --overwrite"), existing.err());
        assertEquals("my notes", Files.readString(mine));
        assertTrue(nowhere.err().contains("mine.json is a file, not a directory"), nowhere.err());
        assertTrue(heads.err().contains("2 % 4"), heads.err());
        assertTrue(blocked.err().contains(".blocked.json.partial is in the way of writing it"), blocked.err());
        Outcome replaced = run(concat(small, "--heads", "2", "--num-verts", "2", "--patterns", "fixed", "--json",
                mine.toString(), "--overwrite"));
        assertEquals(0, replaced.status(), replaced.err());
        assertEquals("fixed", new ObjectMapper().readTree(mine.toFile()).get("patterns").get(0).get("pattern").asText());
        // A missing directory is made, as for layout --npy and run --out.
        Path made = dir.resolve("new/dir/x.json");
        Outcome inNewDir = run(concat(small, "--heads", "2", "--num-verts", "2", "--patterns", "fixed", "--json",
                made.toString()));
        assertEquals(0, inNewDir.status(), inNewDir.err());
        assertEquals(2, new ObjectMapper().readTree(made.toFile()).get("heads").asInt());
        // Through a symbolic link: written where it points, the link kept; a link to nothing is refused.
        Path link = Files.createSymbolicLink(dir.resolve("link.json"), mine);
        Files.writeString(mine, "old figures");
        Outcome linked = run(concat(small, "--heads", "2", "--num-verts", "2", "--patterns", "fixed", "--json",
                link.toString(), "--overwrite"));
        assertEquals(0, linked.status(), linked.err());
        assertTrue(Files.isSymbolicLink(link));
        assertTrue(Files.readString(mine).contains("\"pattern\" : \"fixed\""), Files.readString(mine));
        Path dangling = Files.createSymbolicLink(dir.resolve("dangling.json"), dir.resolve("nothing.json"));
        Outcome nothing = run(concat(small, "--heads", "4", "--json", dangling.toString(), "--overwrite"));
        assertEquals(2, nothing.status(), nothing.err());
        assertTrue(nothing.err().contains("is a symbolic link to " + dir.resolve("nothing.json") + ", which does not"
                + " exist"), nothing.err());
        try (Stream<Path> left = Files.list(dir)) {
            assertEquals(List.of(), left.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList(),
                    "no partial file left");
        }
    }

    private static String[] concat(String[] first, String... more) {
        String[] all = java.util.Arrays.copyOf(first, first.length + more.length);
        System.arraycopy(more, 0, all, first.length, more.length);
        return all;
    }

    @Test
    void generateReplacesAnExistingSetWholeOrNotAtAllAndRefusesWhatTheDiskCannotHold() throws IOException {
        assertEquals(0, run("generate", "--out", dir.toString(), "--seq-len", "20", "--dim", "8", "--seed", "1").status());
        byte[][] before = new byte[3][];
        for (int t = 0; t < 3; t++) {
            before[t] = Files.readAllBytes(dir.resolve("qkv".charAt(t) + ".npy"));
        }
        // k's file cannot be written: none of the three may change, and nothing partial may stay.
        Files.createDirectories(dir.resolve(".k.npy.partial/blocked"));
        Outcome failed = run("generate", "--out", dir.toString(), "--seq-len", "20", "--dim", "8", "--seed", "2",
                "--overwrite");
        assertTrue(failed.status() != 0, failed.out());
        for (int t = 0; t < 3; t++) {
            assertArrayEquals(before[t], Files.readAllBytes(dir.resolve("qkv".charAt(t) + ".npy")), "qkv".charAt(t) + ".npy");
        }
        assertFalse(Files.exists(dir.resolve(".q.npy.partial")));
        Files.delete(dir.resolve(".k.npy.partial/blocked"));
        Files.delete(dir.resolve(".k.npy.partial"));
        // A directory where a file would go is not replaced, even with --overwrite.
        Files.delete(dir.resolve("v.npy"));
        Files.createDirectories(dir.resolve("v.npy/mine"));
        Outcome directory = run("generate", "--out", dir.toString(), "--seq-len", "20", "--dim", "8", "--overwrite");
        assertEquals(2, directory.status(), directory.err());
        assertTrue(directory.err().contains("v.npy is a directory"), directory.err());
        assertTrue(Files.isDirectory(dir.resolve("v.npy/mine")));
        assertArrayEquals(before[0], Files.readAllBytes(dir.resolve("q.npy")));
        Outcome file = run("generate", "--out", dir.resolve("q.npy").toString(), "--seq-len", "20", "--dim", "8");
        assertEquals(2, file.status(), file.err());
        assertTrue(file.err().contains("is a file: expected a directory"), file.err());
        assertArrayEquals(before[0], Files.readAllBytes(dir.resolve("q.npy")));
        // Not beside a run's output, which --overwrite would then refuse to replace.
        Path output = Files.createDirectories(dir.resolve("output"));
        // Another tool's manifest is not a run's: generate writes there.
        Files.writeString(output.resolve("manifest.json"), "{\"name\": \"an extension\"}");
        Path other = output.resolve("inputs");
        assertEquals(0, run("generate", "--out", other.toString(), "--seq-len", "2", "--dim", "2").status());
        for (String name : new String[] {"q.npy", "k.npy", "v.npy"}) {
            Files.delete(other.resolve(name));
        }
        Files.delete(other);
        Files.writeString(output.resolve("manifest.json"), "{\"format\": \"sparse-attention-output\"}");
        Outcome beside = run("generate", "--out", output.toString(), "--seq-len", "20", "--dim", "8", "--overwrite");
        assertEquals(2, beside.status(), beside.err());
        assertTrue(beside.err().contains("--out " + output + " holds a run's output (file:" + output.toRealPath()
                .resolve("manifest.json") + ")"), beside.err());
        Outcome inside = run("generate", "--out", output.resolve("gen").toString(), "--seq-len", "20", "--dim", "8");
        assertEquals(2, inside.status(), inside.err());
        assertTrue(inside.err().contains("--out " + output.resolve("gen") + " is inside a run's output"), inside.err());
        try (Stream<Path> files = Files.list(output)) {
            assertEquals(List.of(output.resolve("manifest.json")), files.toList());
        }
        Outcome huge = run("generate", "--out", dir.resolve("huge").toString(), "--batch", "1000", "--seq-len", "1000000",
                "--dim", "1000000");
        assertEquals(2, huge.status(), huge.err());
        assertTrue(huge.err().contains("need 12000000000000384 bytes"), huge.err());
        assertFalse(Files.exists(dir.resolve("huge")));
        Outcome wide = run("generate", "--out", dir.toString(), "--seq-len", "2", "--dim", "1048577");
        assertEquals(2, wide.status(), wide.err());
        assertTrue(wide.err().contains("--dim: expected at most 1048576, got 1048577"), wide.err());
    }

    @Test
    void generateWritesStandardNormalInputsAndKeepsExistingOnes() throws IOException {
        Outcome o = run("generate", "--out", dir.toString(), "--batch", "2", "--seq-len", "50", "--dim", "8",
                "--seed", "3");
        assertEquals(0, o.status(), o.err());
        float[] q = TestArrays.readNpy(dir.resolve("q.npy"));
        assertEquals(800, q.length);
        double sum = 0;
        double squares = 0;
        for (float x : q) {
            sum += x;
            squares += x * x;
        }
        assertEquals(0, sum / q.length, 0.15);
        assertEquals(1, squares / q.length, 0.2);
        byte[] before = Files.readAllBytes(dir.resolve("k.npy"));
        Outcome again = run("generate", "--out", dir.toString(), "--seq-len", "10", "--dim", "4");
        assertEquals(2, again.status());
        assertTrue(again.err().contains("--overwrite"), again.err());
        assertArrayEquals(before, Files.readAllBytes(dir.resolve("k.npy")));
    }

    /** The manifest records the inputs as URIs a reader can decode, whatever their names hold. */
    @Test
    void theManifestRecordsInputsAsUris() throws IOException {
        Path in = dir.resolve("in dir #%41");
        assertEquals(0, run("generate", "--out", in.toString(), "--seq-len", "40", "--dim", "12").status());
        Path out = dir.resolve("out");
        Outcome o = run("run", "--q", in.resolve("q.npy").toString(), "--k", in.resolve("k.npy").toString(), "--v",
                in.resolve("v.npy").toString(), "--out", out.toString(), "--master", "local[2]", "--heads", "3",
                "--mode", "all");
        assertEquals(0, o.status(), o.err());
        JsonNode inputs = new ObjectMapper().readTree(out.resolve("manifest.json").toFile()).get("inputs");
        for (String name : new String[] {"q", "k", "v"}) {
            String recorded = inputs.get(name).asText();
            assertTrue(recorded.matches("file:/[\\x21-\\x7e]*"), "ASCII, spaces encoded: " + recorded);
            java.net.URI uri = java.net.URI.create(recorded);
            assertEquals("file", uri.getScheme(), recorded);
            assertEquals(in.resolve(name + ".npy").toRealPath(), Path.of(uri.getPath()), recorded);
        }
    }

    private String[] runArgs(Path out, String... extra) {
        String[] base = {"run", "--q", dir.resolve("q.npy").toString(), "--k", dir.resolve("k.npy").toString(),
            "--v", dir.resolve("v.npy").toString(), "--out", out.toString(), "--master", "local[2]"};
        String[] all = new String[base.length + extra.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return all;
    }

    /** Every command answers --version, which its --help offers; an unknown command gets the list of commands. */
    @Test
    void everyCommandSaysItsVersionAndAMistypedCommandGetsTheList() {
        for (String command : List.of("run", "layout", "generate", "verify", "bench")) {
            Outcome version = run(command, "--version");
            assertEquals(0, version.status(), version.err());
            assertEquals("sparse-attention 0.1.0", version.out().strip(), command);
        }
        Outcome typo = run("rn", "--q", "q.npy");
        assertEquals(2, typo.status(), typo.err());
        assertTrue(typo.err().contains("commands: run, layout, generate, bench, verify"), typo.err());
        // With --help too: not the tool's help, as if the word named a command.
        for (String[] asked : new String[][] {{"compute", "--help"}, {"--help", "compute"}, {"layout", "extra", "--help"}}) {
            Outcome unknown = run(asked);
            assertEquals(2, unknown.status(), String.join(" ", asked) + ": " + unknown.out());
            assertTrue(unknown.err().startsWith("error: Unmatched argument at index "), unknown.err());
            assertFalse(unknown.out().contains("Usage:"), unknown.out());
        }
    }

    static Stream<Arguments> badArguments() {
        return Stream.of(
                Arguments.of("E not divisible by heads", new String[] {"--heads", "5", "--mode", "all"}, "12 % 5"),
                Arguments.of("stride 0", new String[] {"--heads", "3", "--mode", "strided", "--local-ctx", "0"}, "got 0"),
                Arguments.of("negative stride", new String[] {"--heads", "3", "--mode", "strided", "--local-ctx", "-4"},
                        "got -4"),
                Arguments.of("unknown mode", new String[] {"--heads", "3", "--mode", "dense"}, "'dense'"),
                Arguments.of("empty part of a mode", new String[] {"--heads", "3", "--mode", "local+"},
                        "mode (--mode) 'local+': a part is empty"),
                Arguments.of("block size 0", new String[] {"--heads", "3", "--mode", "local", "--block-size", "0"}, "got 0"),
                Arguments.of("fixed window not a multiple of the block",
                        new String[] {"--heads", "3", "--mode", "fixed", "--local-ctx", "30", "--block-size", "8"},
                        "30 is not a multiple of 8"),
                Arguments.of("fixed heads not a multiple of num-verts", new String[] {"--heads", "3", "--mode", "fixed",
                    "--local-ctx", "32", "--block-size", "8", "--num-verts", "2"}, "3 % 2"),
                Arguments.of("fixed num-verts * vertsize past the window", new String[] {"--heads", "4", "--mode",
                    "fixed", "--local-ctx", "32", "--block-size", "8", "--num-verts", "4", "--vertsize", "2"},
                        "4 * 2 > 4"),
                Arguments.of("missing option", new String[] {"--mode", "all"}, "Missing required option"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badArguments")
    void badArgumentExitsWithTwoBeforeWritingAnything(String name, String[] options, String expected) {
        assertEquals(0, run("generate", "--out", dir.toString(), "--seq-len", "40", "--dim", "12").status());
        Path out = dir.resolve("out");
        Outcome o = run(runArgs(out, options));
        assertEquals(2, o.status(), name + ": " + o.err());
        assertTrue(o.err().contains(expected), "'" + o.err() + "' lacks '" + expected + "'");
        assertFalse(Files.exists(out), "nothing written");
    }

    /**
     * The defaults file cannot set --overwrite or --allow-nonfinite (an existing output stays), and
     * a value from it that a command refuses is named with the file and its key.
     */
    @Test
    void theDefaultsFileCannotOverwriteAndItsBadValuesAreNamed() throws IOException {
        assertEquals(0, run("generate", "--out", dir.toString(), "--seq-len", "40", "--dim", "12").status());
        Path out = dir.resolve("out");
        assertEquals(0, run(runArgs(out, "--heads", "3", "--mode", "all")).status());
        byte[] manifest = Files.readAllBytes(out.resolve("manifest.json"));
        Path defaults = Files.writeString(dir.resolve("defaults.properties"),
                "overwrite=true\nsparse-attention.run.allow-nonfinite=true\nsparse-attention.layout.block-size=0\n");
        System.setProperty(Main.DEFAULTS_PROPERTY, defaults.toString());
        try {
            Outcome again = run(runArgs(out, "--heads", "3", "--mode", "local", "--local-ctx", "8"));
            assertEquals(2, again.status(), again.err());
            assertTrue(again.err().contains("warning: " + defaults + ": 'overwrite' ignored: only the command line may"
                    + " set it"), again.err());
            assertTrue(again.err().contains("'sparse-attention.run.allow-nonfinite' ignored"), again.err());
            assertTrue(again.err().contains("already exists"), again.err());
            assertFalse(again.err().contains("--overwrite from"), "the ignored key is no source: " + again.err());
            assertArrayEquals(manifest, Files.readAllBytes(out.resolve("manifest.json")), "the output is as it was");
            Outcome layout = run("layout", "--seq-len", "64", "--heads", "2", "--mode", "all");
            assertEquals(2, layout.status(), layout.err());
            assertTrue(layout.err().contains("--block-size must be >= 1, got 0 (--block-size from " + defaults
                    + ": 'sparse-attention.layout.block-size')"), layout.err());
            Outcome given = run("layout", "--seq-len", "64", "--heads", "2", "--mode", "all", "--block-size", "-1");
            assertEquals(2, given.status(), given.err());
            assertTrue(given.err().contains("--block-size must be >= 1, got -1"), given.err());
            assertFalse(given.err().contains(" from " + defaults), "a value given on the command line: " + given.err());
        } finally {
            System.clearProperty(Main.DEFAULTS_PROPERTY);
        }
    }

    /**
     * A flag the defaults file sets to true stays true when typed (picocli flips a flag's default
     * otherwise), and false only as {@code --flag=false}; a value's trailing spaces are not part of it.
     */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void aFlagTheDefaultsFileSetsStaysOnWhenTyped() throws IOException {
        assertEquals(0, run("generate", "--out", dir.toString(), "--seq-len", "40", "--dim", "12").status());
        Path defaults = Files.writeString(dir.resolve("defaults.properties"),
                "merge=true\nlse=true\nblock-size = 16 \n");
        System.setProperty(Main.DEFAULTS_PROPERTY, defaults.toString());
        try {
            Outcome typed = run(runArgs(dir.resolve("typed"), "--heads", "3", "--mode", "all", "--merge", "--lse"));
            assertEquals(0, typed.status(), typed.err());
            assertTrue(Files.exists(dir.resolve("typed/output.npy")), typed.err());
            assertTrue(Files.exists(dir.resolve("typed/lse.npy")), typed.err());
            // Blocks of 16: 3 x 3 causal blocks, 6 tiles per head (with 64: one).
            assertTrue(typed.out().contains("tiles 18 "), "the file's block size, its spaces left out: " + typed.out());
            Outcome off = run(runArgs(dir.resolve("off"), "--heads", "3", "--mode", "all", "--merge=false"));
            assertEquals(0, off.status(), off.err());
            assertFalse(Files.exists(dir.resolve("off/output.npy")), "--merge=false: " + off.err());
            assertTrue(Files.exists(dir.resolve("off/manifest.json")), off.err());
        } finally {
            System.clearProperty(Main.DEFAULTS_PROPERTY);
        }
    }

    /** A mode from the defaults file that does not parse is named with the file and its key, without the dense note. */
    @Test
    void aBadModeFromTheDefaultsFileIsNamedWithItsKey() throws IOException {
        Path defaults = Files.writeString(dir.resolve("defaults.properties"), "sparse-attention.layout.mode=local+\n"
                + "patterns=local+bogus\n");
        System.setProperty(Main.DEFAULTS_PROPERTY, defaults.toString());
        try {
            Outcome layout = run("layout", "--seq-len", "64", "--heads", "2");
            assertEquals(2, layout.status(), layout.err());
            assertTrue(layout.err().startsWith("error: mode (--mode) 'local+': a part is empty"), layout.err());
            assertTrue(layout.err().contains("(--mode from " + defaults + ": 'sparse-attention.layout.mode')"),
                    layout.err());
            Outcome bench = run("bench", "--seq-len", "64");
            assertEquals(2, bench.status(), bench.err());
            assertTrue(bench.err().startsWith("error: --patterns 'local+bogus': unknown pattern 'bogus'"), bench.err());
            // bench's , lists patterns, so its message offers + alone.
            assertTrue(bench.err().contains("fixed, joined by + (union)"), bench.err());
            assertFalse(bench.err().contains("per head"), bench.err());
            assertTrue(bench.err().contains("(--patterns from " + defaults + ": 'patterns')"), bench.err());
        } finally {
            System.clearProperty(Main.DEFAULTS_PROPERTY);
        }
        Outcome fixed = run("bench", "--local-ctx", "64", "--seq-len", "256", "--all-seq-len", "64");
        assertEquals(2, fixed.status(), fixed.err());
        assertTrue(fixed.err().startsWith("error: --patterns 'fixed' (of the default list local,strided,local+strided,"
                + "fixed,all): fixed: "), fixed.err());
    }

    /** A Spark setting of the wrong type in the launcher's settings file: exit 2, one line naming the file and key. */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void aBadSparkSettingIsNamedWithItsFile() throws IOException {
        assertEquals(0, run("generate", "--out", dir.toString(), "--seq-len", "40", "--dim", "12").status());
        Path settings = dir.resolve("spark.properties");
        Outcome bad = runWithSparkSettings(settings, "spark.shuffle.compress=maybe\n");
        assertEquals(2, bad.status(), bad.err());
        assertTrue(bad.err().contains("error: " + settings + ": 'spark.shuffle.compress': The value 'maybe' in the config"
                + " \"spark.shuffle.compress\" is invalid"), bad.err());
        assertFalse(bad.err().contains("\tat ") || bad.err().contains("SQLSTATE"), bad.err());
        assertFalse(Files.exists(dir.resolve("out")));
        // Too little executor memory there: named with the file too, in one line, without spark-submit's advice.
        Outcome small = runWithSparkSettings(settings, "spark.executor.memory=100m\n");
        assertEquals(2, small.status(), small.err());
        assertTrue(small.err().contains("error: spark.executor.memory 100m (" + settings + ": 'spark.executor.memory')"
                + " does not fit: "), small.err());
        assertFalse(small.err().contains("Please") || small.err().contains("spark-submit"), small.err());
        assertEquals(1, small.err().lines().filter(line -> line.startsWith("error: ")).count(), small.err());
        assertFalse(Files.exists(dir.resolve("out")));
        // More cores per task than the master's threads: one line naming the file and key, not Spark's trace.
        Outcome cpus = runWithSparkSettings(settings, "spark.task.cpus=4\n");
        assertEquals(2, cpus.status(), cpus.err());
        assertTrue(cpus.err().contains("error: spark.task.cpus 4 (" + settings + ": 'spark.task.cpus'): no task could"
                + " run: The number of cores per executor (=2) has to be >= the number of cpus per task = 4."), cpus.err());
        assertFalse(cpus.err().contains("\tat "), cpus.err());
        assertFalse(Files.exists(dir.resolve("out")));
        // A master from that file (no --master given): named with it.
        Files.writeString(settings, "spark.master=local[0]\n");
        List<String> noMaster = new java.util.ArrayList<>(List.of(runArgs(dir.resolve("out"), "--heads", "3", "--mode",
                "all")));
        noMaster.subList(noMaster.indexOf("--master"), noMaster.indexOf("--master") + 2).clear();
        System.setProperty(SparkSetup.SPARK_SETTINGS_PROPERTY, settings.toString());
        Outcome master;
        try {
            master = run(noMaster.toArray(String[]::new));
        } finally {
            System.clearProperty(SparkSetup.SPARK_SETTINGS_PROPERTY);
        }
        assertEquals(2, master.status(), master.err());
        assertTrue(master.err().contains("error: --master (or spark.master) local[0]: expected at least 1 thread")
                && master.err().contains("(spark.master from " + settings + ": 'spark.master')"), master.err());
    }

    /** Runs `run` on the generated inputs with the launcher's Spark settings file {@code settings} holding {@code text}. */
    private Outcome runWithSparkSettings(Path settings, String text) throws IOException {
        Files.writeString(settings, text);
        System.setProperty(SparkSetup.SPARK_SETTINGS_PROPERTY, settings.toString());
        try {
            return run(runArgs(dir.resolve("out"), "--heads", "3", "--mode", "all"));
        } finally {
            System.clearProperty(SparkSetup.SPARK_SETTINGS_PROPERTY);
        }
    }

    /** The README's `layout` example is what the command prints (its "..." lines stand for rows left out). */
    @Test
    void theReadmesLayoutExampleIsWhatLayoutPrints() throws IOException {
        String readme = Files.readString(Path.of("README.md"));
        String prompt = "$ jobs/sparse-attention layout ";
        int start = readme.indexOf(prompt);
        assertTrue(start >= 0, "the README shows a layout command");
        List<String> shown = List.of(readme.substring(start, readme.indexOf("```", start)).split("\n"));
        String[] command = shown.get(0).substring("$ jobs/sparse-attention ".length()).split(" ");
        Outcome o = run(command);
        assertEquals(0, o.status(), o.err());
        List<String> printed = List.of(o.out().split("\n"));
        int at = 0;
        for (String line : shown.subList(1, shown.size())) {
            if (line.strip().equals("...")) {
                // Rows left out: skip to the next head's line.
                while (at < printed.size() && !printed.get(at).startsWith("head ")) {
                    at++;
                }
                continue;
            }
            assertTrue(at < printed.size(), "the README shows more than is printed: " + line);
            assertEquals(line, printed.get(at++));
        }
    }

    /** A mistyped option: the error and where the usage is; a defaults file's bad value or key is named. */
    @Test
    void optionErrorsNameTheOptionAndTheDefaultsFile() throws IOException {
        String[] layout = {"layout", "--seq-len", "64", "--heads", "2", "--mode", "local", "--local-ctx", "16"};
        Outcome typo = run(concat(layout, "--blok-size", "16"));
        assertEquals(2, typo.status(), typo.err());
        assertTrue(typo.err().startsWith("error: Unknown options: '--blok-size', '16'"), typo.err());
        assertTrue(typo.err().contains("--block-size"), "a suggestion: " + typo.err());
        assertTrue(typo.err().contains("usage: sparse-attention layout --help"), typo.err());
        assertFalse(typo.err().contains("Usage:"), "not the whole usage: " + typo.err());
        assertFalse(typo.err().contains("spark-submit's options"), typo.err());
        // spark-submit's options after jobs/spark-submit's '--': where they go is said.
        for (String[] sparkOption : new String[][] {{"--conf", "spark.executor.memory=700m"}, {"--executor-memory=1g"}}) {
            Outcome misplaced = run(concat(layout, sparkOption));
            assertEquals(2, misplaced.status(), misplaced.err());
            assertTrue(misplaced.err().contains("note: spark-submit's options go before '--' (jobs/spark-submit"
                    + " [spark-submit options] -- <command> ...); jobs/sparse-attention takes Spark settings as -Dspark.*"
                    + " in SPARSE_ATTENTION_JAVA_OPTS"), misplaced.err());
        }
        Path defaults = Files.writeString(dir.resolve("defaults.properties"),
                "blok-size=32\nblock-size=abc\nsparse-attention.layout.local-ctx=16\nrun.shard-rows=64\n");
        System.setProperty(Main.DEFAULTS_PROPERTY, defaults.toString());
        try {
            Outcome bad = run(layout);
            assertEquals(2, bad.status(), bad.err());
            assertTrue(bad.err().contains("warning: " + defaults + ": 'blok-size' is no option of any command; ignored"),
                    bad.err());
            assertTrue(bad.err().contains("warning: " + defaults + ": 'run.shard-rows' is no option of any command;"
                    + " ignored"), "picocli reads sparse-attention.run.shard-rows, not run.shard-rows: " + bad.err());
            assertFalse(bad.err().contains("'sparse-attention.layout.local-ctx'"), bad.err());
            assertTrue(bad.err().contains("Invalid value for option '--block-size': 'abc' is not a whole number (--block-size from "
                    + defaults + ": 'block-size')"), bad.err());
            // Typed on the command line, or read from an @file, the bad value is the user's own: no
            // note about the defaults file.
            Path options = Files.writeString(dir.resolve("options.txt"), "--block-size=uvw\n");
            for (String[] own : new String[][] {{"--block-size=xyz"}, {"@" + options}}) {
                Outcome typed = run(concat(layout, own));
                assertEquals(2, typed.status(), typed.err());
                assertTrue(typed.err().contains("Invalid value for option '--block-size': '"), typed.err());
                assertFalse(typed.err().contains("from " + defaults), typed.err());
            }
        } finally {
            System.clearProperty(Main.DEFAULTS_PROPERTY);
        }
    }

    @Test
    void generateAndLayoutRefuseALocationThatCannotBeWritten() throws IOException {
        Path notes = Files.writeString(dir.resolve("notes.txt"), "mine");
        String nowhere = "/proc/sparse-attention-nowhere";
        String[] layout = {"layout", "--seq-len", "64", "--heads", "2", "--mode", "local", "--local-ctx", "16",
            "--block-size", "16", "--npy"};
        Outcome generateUnderFile = run("generate", "--out", notes.resolve("g").toString(), "--seq-len", "8", "--dim", "4");
        Outcome generateNowhere = run("generate", "--out", nowhere + "/g", "--seq-len", "8", "--dim", "4");
        Outcome layoutUnderFile = run(concat(layout, notes.resolve("g.npy").toString()));
        Outcome layoutNowhere = run(concat(layout, nowhere + "/g.npy"));
        for (Outcome o : List.of(generateUnderFile, generateNowhere, layoutUnderFile, layoutNowhere)) {
            assertEquals(2, o.status(), o.err());
            assertFalse(o.err().contains("\tat "), "no stack trace: " + o.err());
            assertFalse(o.out().contains("wrote"), o.out());
        }
        assertTrue(generateUnderFile.err().contains("--out " + notes.resolve("g") + ": " + notes
                + " is a file, not a directory"), generateUnderFile.err());
        assertTrue(layoutUnderFile.err().contains("--npy " + notes.resolve("g.npy") + ": " + notes
                + " is a file, not a directory"), layoutUnderFile.err());
        assertTrue(generateNowhere.err().contains("cannot write in /proc"), generateNowhere.err());
        assertTrue(layoutNowhere.err().contains("cannot write in /proc"), layoutNowhere.err());
        assertEquals("mine", Files.readString(notes));
    }

    @Test
    void anOutputLocationThatCannotBeWrittenIsRefusedBeforeAnyWork() throws IOException {
        assertEquals(0, run("generate", "--out", dir.toString(), "--seq-len", "40", "--dim", "12").status());
        Path notes = Files.writeString(dir.resolve("notes.txt"), "mine");
        Outcome underFile = run(runArgs(notes.resolve("out"), "--heads", "3", "--mode", "all"));
        Outcome unwritable = run(runArgs(Path.of("/proc/sparse-attention-nowhere/out"), "--heads", "3", "--mode", "all"));
        for (Outcome o : List.of(underFile, unwritable)) {
            assertEquals(2, o.status(), o.err());
            assertFalse(o.out().contains("plan:"), "refused before planning: " + o.out());
            assertFalse(o.err().contains("\tat "), "no stack trace: " + o.err());
        }
        assertTrue(underFile.err().contains("notes.txt is a file, not a directory"), underFile.err());
        assertTrue(unwritable.err().contains("cannot write in /proc"), unwritable.err());
        assertEquals("mine", Files.readString(notes));
        try (Stream<Path> left = Files.list(dir)) {
            assertEquals(List.of(), left.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList(),
                    "no probe or staging directory left");
        }
        String[] bogus = runArgs(dir.resolve("out"), "--heads", "3", "--mode", "all");
        bogus[java.util.Arrays.asList(bogus).indexOf("local[2]")] = "bogus";
        Outcome master = run(bogus);
        assertEquals(2, master.status(), master.err());
        assertTrue(master.err().contains("error: --master (or spark.master) bogus: Could not parse Master URL"),
                master.err());
        bogus[java.util.Arrays.asList(bogus).indexOf("bogus")] = "local[0]";
        Outcome none = run(bogus);
        assertEquals(2, none.status(), none.err());
        assertTrue(none.err().startsWith("error: --master (or spark.master) local[0]: expected at least 1 thread"),
                none.err());
        assertFalse(Files.exists(dir.resolve("out")));
        System.setProperty("spark.testing.memory", "268435456");
        Outcome heap;
        try {
            heap = run(runArgs(dir.resolve("out"), "--heads", "3", "--mode", "all"));
        } finally {
            System.clearProperty("spark.testing.memory");
        }
        assertEquals(2, heap.status(), heap.err());
        assertTrue(heap.err().contains("error: the JVM's heap is too small for Spark (raise -Xmx"), heap.err());
        assertFalse(heap.err().contains("SQLSTATE"), "one plain line: " + heap.err());
        Outcome tolerance = run("verify", "--seq-len", "10", "--heads", "1", "--mode", "all", "--tolerance", "-1");
        assertEquals(2, tolerance.status(), tolerance.err());
        assertTrue(tolerance.err().contains("--tolerance: expected a relative error >= 0, got -1.0"), tolerance.err());
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void unitThatAlwaysFailsExitsWithOneNamingTheUnitAndWritesNothing() {
        assertEquals(0, run("generate", "--out", dir.toString(), "--seq-len", "70", "--dim", "12").status());
        Path out = dir.resolve("failed");
        System.setProperty("spark.sparseattention.fault", "fail:1");
        try {
            Outcome o = run(runArgs(out, "--heads", "3", "--mode", "local", "--local-ctx", "8", "--block-size", "16",
                    "--unit-tiles", "6", "--merge"));
            assertEquals(1, o.status(), o.err());
            assertTrue(o.err().contains("error: unit 1 (batch 0"), o.err());
        } finally {
            System.clearProperty("spark.sparseattention.fault");
        }
        assertFalse(Files.exists(out), "no output directory: no _SUCCESS, no output.npy");
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void runWritesOutputsAndPrintsTheSummary() throws IOException {
        assertEquals(0, run("generate", "--out", dir.toString(), "--batch", "2", "--seq-len", "70", "--dim", "12")
                .status());
        Path out = dir.resolve("result");
        Outcome o = run(runArgs(out, "--heads", "3", "--mode", "local+strided", "--local-ctx", "8", "--block-size",
                "16", "--merge", "--lse"));
        assertEquals(0, o.status(), o.err());
        assertTrue(o.out().contains("done: 140 rows x 3 heads"), o.out());
        assertTrue(o.out().contains("GFLOP/s"), o.out());
        assertEquals(2 * 70 * 12, TestArrays.readNpy(out.resolve("output.npy")).length);
        assertEquals(2 * 3 * 70, TestArrays.readNpy(out.resolve("lse.npy")).length);
        String manifest = Files.readString(out.resolve("manifest.json"));
        assertTrue(manifest.contains("\"shape\" : [ 2, 70, 12 ]"), manifest);
        // The same run writes the same bytes: the inputs listed in a fixed order, not a hash map's.
        String inputs = manifest.substring(manifest.indexOf("\"inputs\""));
        assertTrue(inputs.indexOf("\"q\"") < inputs.indexOf("\"k\"") && inputs.indexOf("\"k\"") < inputs.indexOf("\"v\""),
                manifest);
        assertTrue(Files.exists(out.resolve("_SUCCESS")));
        try (Stream<Path> left = Files.list(dir)) {
            assertEquals(List.of(), left.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList(),
                    "no probe or staging directory left beside the output");
        }
    }
}
