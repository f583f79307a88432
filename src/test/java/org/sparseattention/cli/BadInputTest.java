package org.sparseattention.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.sparseattention.TestArrays;

/**
 * Hostile inputs through the command line: exit status 2, a message naming the file and the
 * field with both values, nothing written, no crash.
 */
class BadInputTest {
    static final int L = 40;
    static final int E = 12;
    @TempDir
    Path dir;
    byte[] good;

    @BeforeEach
    void inputs() throws IOException {
        assertEquals(0, CliTest.run("generate", "--out", dir.toString(), "--batch", "2", "--seq-len", "" + L, "--dim",
                "" + E).status());
        good = Files.readAllBytes(dir.resolve("q.npy"));
    }

    private static int headerEnd(byte[] file) {
        return 10 + ((file[8] & 0xff) | (file[9] & 0xff) << 8);
    }

    /** Returns the file with its header text edited, re-padded to the same length. */
    private static byte[] editHeader(byte[] file, String from, String to) {
        String header = new String(file, 10, headerEnd(file) - 10, StandardCharsets.ISO_8859_1);
        assertTrue(header.contains(from), header);
        String edited = header.replace(from, to);
        int padding = header.length() - edited.length();
        edited = edited.substring(0, edited.length() - 1) + " ".repeat(Math.max(0, padding)) + "\n";
        byte[] result = file.clone();
        System.arraycopy(edited.getBytes(StandardCharsets.ISO_8859_1), 0, result, 10, edited.length());
        return result;
    }

    static Stream<Arguments> corruptions() {
        return Stream.of(
                Arguments.of("empty file", (UnaryOperator<byte[]>) f -> new byte[0], new String[] {"'length'", "empty"}),
                Arguments.of("wrong magic", (UnaryOperator<byte[]>) f -> {
                    byte[] c = f.clone();
                    c[0] = 'X';
                    return c;
                }, new String[] {"'magic'", "XNUMPY"}),
                Arguments.of("unsupported version", (UnaryOperator<byte[]>) f -> {
                    byte[] c = f.clone();
                    c[6] = 9;
                    return c;
                }, new String[] {"'version'", "9.0"}),
                Arguments.of("header length past the end", (UnaryOperator<byte[]>) f -> Arrays.copyOf(f, 70),
                        new String[] {"'header length'"}),
                Arguments.of("data one byte short", (UnaryOperator<byte[]>) f -> Arrays.copyOf(f, f.length - 1),
                        new String[] {"'data length'", "3840 bytes", "3839 bytes"}),
                Arguments.of("data half missing", (UnaryOperator<byte[]>) f -> Arrays.copyOf(f, f.length - 1920),
                        new String[] {"'data length'", "3840 bytes", "1920 bytes"}),
                Arguments.of("Fortran order", (UnaryOperator<byte[]>) f -> editHeader(f, "False", "True"),
                        new String[] {"'fortran_order'", "True"}),
                Arguments.of("integer dtype", (UnaryOperator<byte[]>) f -> editHeader(f, "<f4", "<i4"),
                        new String[] {"'descr'", "'<i4'"}),
                Arguments.of("complex dtype", (UnaryOperator<byte[]>) f -> editHeader(f, "<f4", "<c8"),
                        new String[] {"'descr'", "'<c8'"}),
                Arguments.of("rank 4", (UnaryOperator<byte[]>) f -> editHeader(f, "(2, 40, 12)", "(2, 1, 40, 12)"),
                        new String[] {"'shape'", "rank 4"}),
                Arguments.of("rank 1", (UnaryOperator<byte[]>) f -> editHeader(f, "(2, 40, 12)", "(960,)"),
                        new String[] {"'shape'", "rank 1"}),
                Arguments.of("shape differs from k", (UnaryOperator<byte[]>) f -> editHeader(f, "(2, 40, 12)", "(4, 20, 12)"),
                        new String[] {"k.npy: field 'shape': expected [4, 20, 12] (the shape of --q ", "got [2, 40, 12]",
                            "--q and --k shapes differ"}));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corruptions")
    void corruptQueryFileIsRefusedWithStatusTwo(String name, UnaryOperator<byte[]> corrupt, String[] expected)
            throws IOException {
        Path q = dir.resolve("q.npy");
        Files.write(q, corrupt.apply(good));
        Path out = dir.resolve("out");
        CliTest.Outcome o = CliTest.run(args(out, "--heads", "3", "--mode", "local", "--local-ctx", "8"));
        assertEquals(2, o.status(), o.err());
        assertTrue(o.err().contains("--q " + q), "names the option and the file: " + o.err());
        for (String part : expected) {
            assertTrue(o.err().contains(part), "'" + o.err() + "' lacks '" + part + "'");
        }
        assertFalse(Files.exists(out), "nothing written");
    }

    /** [1, L, E] and [L, E] hold the same rows, but inputs must have one shape, as the README says. */
    @Test
    void inputsOfTheSameRowsInAnotherRankAreRefused() throws IOException {
        for (String name : List.of("q.npy", "k.npy", "v.npy")) {
            Path file = dir.resolve(name);
            Files.write(file, editHeader(Files.readAllBytes(file), "(2, 40, 12)", name.equals("k.npy") ? "(80, 12)"
                    : "(1, 80, 12)"));
        }
        Path out = dir.resolve("out");
        CliTest.Outcome o = CliTest.run(args(out, "--heads", "3", "--mode", "local", "--local-ctx", "8"));
        assertEquals(2, o.status(), o.err());
        assertTrue(o.err().contains("error: --k ") && o.err().contains("k.npy: field 'shape': expected [1, 80, 12] (the"
                + " shape of --q "), o.err());
        assertTrue(o.err().contains("got [80, 12]: --q and --k shapes differ"), o.err());
        assertFalse(Files.exists(out), "nothing written");
    }

    private String[] args(Path out, String... extra) {
        String[] base = {"run", "--q", dir.resolve("q.npy").toString(), "--k", dir.resolve("k.npy").toString(), "--v",
            dir.resolve("v.npy").toString(), "--out", out.toString(), "--master", "local[2]", "--block-size", "16"};
        String[] all = Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return all;
    }

    /** A location no path can be made of is named with its option, for each command that writes. */
    @Test
    void anOutputLocationThatIsNoPathIsNamedWithItsOption() {
        String[] run = args(dir.resolve("out"), "--heads", "3", "--mode", "all");
        run[Arrays.asList(run).indexOf("--out") + 1] = "a:b";
        String[][] commands = {run, {"generate", "--out", "", "--seq-len", "4", "--dim", "2"},
            {"layout", "--seq-len", "16", "--heads", "1", "--mode", "all", "--block-size", "4", "--npy", "x:y.npy"}};
        String[] named = {"--out a:b: field 'name': expected a name without ':'", "--out '': not a path or URI",
            "--npy 'x:y.npy': not a path or URI"};
        for (int i = 0; i < commands.length; i++) {
            CliTest.Outcome o = CliTest.run(commands[i]);
            assertEquals(2, o.status(), o.err());
            assertTrue(o.err().startsWith("error: " + named[i]), o.err());
        }
    }

    @Test
    void missingFileIsNamed() throws IOException {
        Files.delete(dir.resolve("v.npy"));
        CliTest.Outcome o = CliTest.run(args(dir.resolve("out"), "--heads", "3", "--mode", "all"));
        assertEquals(2, o.status());
        assertTrue(o.err().contains(dir.resolve("v.npy").toString()) && o.err().contains("no such file"), o.err());
        assertFalse(o.err().contains("escapes"), o.err());
        assertFalse(Files.exists(dir.resolve("out")));
        // A file URI with its space percent-encoded, as pathlib's as_uri() writes it: Hadoop does not decode it.
        Path spaced = Files.createDirectories(dir.resolve("a b"));
        Files.copy(dir.resolve("k.npy"), spaced.resolve("v.npy"));
        String encoded = spaced.toUri().toString().replace("a%20b/", "a%20b/v.npy");
        String[] withEncoded = args(dir.resolve("out"), "--heads", "3", "--mode", "all");
        withEncoded[6] = encoded;
        CliTest.Outcome escaped = CliTest.run(withEncoded);
        assertEquals(2, escaped.status(), escaped.err());
        assertTrue(escaped.err().contains("error: --v " + encoded + ": no such file (locations are Hadoop paths, whose"
                + " %XX escapes are not decoded: " + spaced.resolve("v.npy") + " exists; give it as it is named)"),
                escaped.err());
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void bigEndianInputIsConvertedNotMisread() throws IOException {
        assertEquals(0, CliTest.run(args(dir.resolve("little"), "--heads", "3", "--mode", "all", "--merge")).status());
        ByteBuffer little = ByteBuffer.wrap(good, headerEnd(good), good.length - headerEnd(good)).order(ByteOrder.LITTLE_ENDIAN);
        byte[] big = editHeader(good, "<f4", ">f4");
        ByteBuffer target = ByteBuffer.wrap(big, headerEnd(big), big.length - headerEnd(big)).order(ByteOrder.BIG_ENDIAN);
        while (little.hasRemaining()) {
            target.putFloat(little.getFloat());
        }
        Files.write(dir.resolve("q.npy"), big);
        assertEquals(0, CliTest.run(args(dir.resolve("big"), "--heads", "3", "--mode", "all", "--merge")).status());
        assertArrayEquals(Files.readAllBytes(dir.resolve("little/output.npy")),
                Files.readAllBytes(dir.resolve("big/output.npy")));
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void nonFiniteValuesAreRefusedByDefaultAndPropagateWhenAllowed() throws IOException {
        float[] q = TestArrays.readNpy(dir.resolve("q.npy"));
        q[(1 * L + 17) * E + 2] = Float.NaN;
        TestArrays.writeNpy(dir.resolve("q.npy"), new long[] {2, L, E}, q);
        CliTest.Outcome refused = CliTest.run(args(dir.resolve("out"), "--heads", "3", "--mode", "local", "--local-ctx",
                "8", "--merge"));
        assertEquals(2, refused.status(), refused.err());
        assertTrue(refused.err().contains("error: --q " + dir.resolve("q.npy") + ": ")
                && refused.err().contains("batch 1, row 17"), "names the tensor, its file as given and where: "
                + refused.err());
        assertTrue(refused.out().contains(", failed on bad input (named below)"), "the stage line: " + refused.out());
        // Its tasks' figures count only those that finished: none of them on that line.
        assertTrue(refused.out().lines().filter(line -> line.endsWith(", failed on bad input (named below)"))
                .allMatch(line -> line.matches("stage \\d+ \\([^)]*\\): \\d+ tasks? in [0-9.]+ s,"
                        + " failed on bad input \\(named below\\)")),
                refused.out());
        assertFalse(Files.exists(dir.resolve("out")));

        CliTest.Outcome allowed = CliTest.run(args(dir.resolve("out"), "--heads", "3", "--mode", "local", "--local-ctx",
                "8", "--merge", "--allow-nonfinite"));
        assertEquals(0, allowed.status(), allowed.err());
        float[] out = TestArrays.readNpy(dir.resolve("out/output.npy"));
        int row = (1 * L + 17) * E;
        for (int e = 0; e < E; e++) {
            assertEquals(e < 4, Float.isNaN(out[row + e]), "head 0 of row 17 is NaN, the others are not: feature " + e);
        }
        assertFalse(Float.isNaN(out[row - E]), "row 16 is unaffected");
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void finiteInputsWhoseScoresFloat32CannotHoldAreRefused() throws IOException {
        for (String name : List.of("q.npy", "k.npy")) {
            float[] values = TestArrays.readNpy(dir.resolve(name));
            values[(1 * L + 17) * E] = 2e19f;
            TestArrays.writeNpy(dir.resolve(name), new long[] {2, L, E}, values);
        }
        CliTest.Outcome refused = CliTest.run(args(dir.resolve("out"), "--heads", "3", "--mode", "local", "--local-ctx",
                "8", "--merge", "--scale", "1"));
        assertEquals(2, refused.status(), refused.err());
        assertTrue(refused.err().contains("error: --q " + dir.resolve("q.npy") + ", --k " + dir.resolve("k.npy")
                + ": the scores of batch 1, row 17, head 0 overflow float32 (log-sum-exp"
                + " NaN): q . k times --scale 1.0 passes"), "names both tensors, their files and where: " + refused.err());
        assertFalse(Files.exists(dir.resolve("out")));
    }

    @Test
    void outputThatExistsOrOverlapsAnInputIsRefused() throws IOException {
        Files.createDirectories(dir.resolve("taken"));
        Files.writeString(dir.resolve("taken/keep.txt"), "mine");
        CliTest.Outcome exists = CliTest.run(args(dir.resolve("taken"), "--heads", "3", "--mode", "all"));
        assertEquals(2, exists.status());
        // Not ours to replace: --overwrite is not suggested, as it would be refused too.
        assertTrue(exists.err().contains("already exists and holds keep.txt, which this tool does not write: choose"
                + " another location"), exists.err());
        assertFalse(exists.err().contains("pass --overwrite"), exists.err());
        Files.writeString(dir.resolve("afile"), "mine");
        CliTest.Outcome file = CliTest.run(args(dir.resolve("afile"), "--heads", "3", "--mode", "all"));
        assertEquals(2, file.status());
        assertTrue(file.err().contains("afile already exists and is a file, not an output of this tool"), file.err());
        assertFalse(file.err().contains("pass --overwrite"), file.err());
        Files.createDirectories(dir.resolve("empty"));
        CliTest.Outcome empty = CliTest.run(args(dir.resolve("empty"), "--heads", "3", "--mode", "all"));
        assertEquals(2, empty.status());
        assertTrue(empty.err().contains("empty already exists: choose another directory or pass --overwrite"),
                empty.err());
        assertEquals("mine", Files.readString(dir.resolve("taken/keep.txt")));
        CliTest.Outcome foreign = CliTest.run(args(dir.resolve("taken"), "--heads", "3", "--mode", "all", "--overwrite"));
        assertEquals(2, foreign.status());
        assertTrue(foreign.err().contains("holds keep.txt, which this tool does not write"), foreign.err());
        assertEquals("mine", Files.readString(dir.resolve("taken/keep.txt")), "--overwrite replaces only this tool's outputs");
        CliTest.Outcome inside = CliTest.run(args(dir, "--heads", "3", "--mode", "all", "--overwrite"));
        assertEquals(2, inside.status());
        assertTrue(inside.err().contains("overlaps the input"), inside.err());
        assertTrue(Files.exists(dir.resolve("q.npy")));
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void anOutputOfThisToolWithAFileAddedIsNotReplaced() throws IOException {
        Path out = dir.resolve("result");
        assertEquals(0, CliTest.run(args(out, "--heads", "3", "--mode", "all")).status());
        byte[] shard = Files.readAllBytes(out.resolve("output-b00000-r0000000000.npy"));
        Files.writeString(out.resolve("notes.txt"), "mine");
        CliTest.Outcome again = CliTest.run(args(out, "--heads", "3", "--mode", "local", "--local-ctx", "4", "--overwrite"));
        assertEquals(2, again.status(), again.err());
        assertTrue(again.err().contains("holds notes.txt, which this tool does not write"), again.err());
        assertEquals("mine", Files.readString(out.resolve("notes.txt")));
        assertArrayEquals(shard, Files.readAllBytes(out.resolve("output-b00000-r0000000000.npy")));
    }

    @Test
    void anOutputThatIsAnInputSpelledAnotherWayIsRefused(@TempDir Path links) throws IOException {
        // The same directory as a URI ending in "/.", and an input reached through a link to it.
        CliTest.Outcome dotted = CliTest.run(args(Path.of(dir.toUri().toString().replaceAll("/$", "") + "/."),
                "--heads", "3", "--mode", "all", "--overwrite"));
        Path link = Files.createSymbolicLink(links.resolve("inputs"), dir);
        String[] linked = args(dir, "--heads", "3", "--mode", "all", "--overwrite");
        linked[2] = link.resolve("q.npy").toString();
        linked[4] = link.resolve("k.npy").toString();
        linked[6] = link.resolve("v.npy").toString();
        CliTest.Outcome throughLink = CliTest.run(linked);
        for (CliTest.Outcome o : List.of(dotted, throughLink)) {
            assertEquals(2, o.status(), o.err());
            assertTrue(o.err().contains("overlaps the input"), o.err());
        }
        for (String name : List.of("q.npy", "k.npy", "v.npy")) {
            assertTrue(Files.exists(dir.resolve(name)), name);
        }
    }

    @Test
    void aShapeTooLargeNamesTheSizeAndItsLimit() throws IOException {
        long[] shape = {1, 1, (1 << 20) + 1};
        for (String name : List.of("q.npy", "k.npy", "v.npy")) {
            TestArrays.writeNpy(dir.resolve(name), shape, new float[(1 << 20) + 1]);
        }
        CliTest.Outcome o = CliTest.run(args(dir.resolve("out"), "--heads", "1", "--mode", "all"));
        assertEquals(2, o.status(), o.err());
        assertTrue(o.err().contains("--q " + dir.resolve("q.npy") + ": field 'shape': expected E <= 1048576, got E ="
                + " 1048577 in [1, 1, 1048577]"), o.err());
        assertFalse(Files.exists(dir.resolve("out")));
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aScaleThatIsNotFiniteInFloat32IsRefused() {
        for (String scale : List.of("NaN", "-Infinity", "Infinity")) {
            CliTest.Outcome o = CliTest.run(args(dir.resolve("out"), "--heads", "3", "--mode", "all", "--scale", scale));
            assertEquals(2, o.status(), scale + ": " + o.err());
            assertTrue(o.err().contains("--scale must be a finite number, got " + scale), o.err());
        }
        for (String[] scale : new String[][] {{"1e39", "Infinity"}, {"-1e39", "-Infinity"}, {"1e-50", "0.0"}}) {
            CliTest.Outcome o = CliTest.run(args(dir.resolve("out"), "--heads", "3", "--mode", "all", "--scale", scale[0]));
            assertEquals(2, o.status(), scale[0] + ": " + o.err());
            assertTrue(o.err().contains("--scale must be 0 or a float32 number of magnitude between"), o.err());
            assertTrue(o.err().contains(", " + scale[1] + " as float32"), o.err());
        }
        assertFalse(Files.exists(dir.resolve("out")));
        // Zero and negative scales are used as given (their numbers: SparseAttentionTest).
        CliTest.Outcome negative = CliTest.run(args(dir.resolve("negative"), "--heads", "3", "--mode", "all", "--scale",
                "-0.5"));
        assertEquals(0, negative.status(), negative.err());
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void anOutputReachedThroughALinkIsReplacedWhereTheLinkPointsAndADanglingLinkIsRefused(@TempDir Path links)
            throws IOException {
        Path target = dir.resolve("result");
        assertEquals(0, CliTest.run(args(target, "--heads", "3", "--mode", "all")).status());
        Path link = Files.createSymbolicLink(links.resolve("result"), target);
        CliTest.Outcome again = CliTest.run(args(link, "--heads", "3", "--mode", "local", "--local-ctx", "4",
                "--overwrite"));
        assertEquals(0, again.status(), again.err());
        assertTrue(Files.isSymbolicLink(link), "the link is kept");
        assertTrue(Files.readString(target.resolve("manifest.json")).contains("\"local\""), "the output it points to is new");
        Path dangling = Files.createSymbolicLink(links.resolve("dangling"), dir.resolve("missing"));
        CliTest.Outcome refused = CliTest.run(args(dangling, "--heads", "3", "--mode", "all"));
        assertEquals(2, refused.status(), refused.err());
        assertTrue(refused.err().contains("is a symbolic link to " + dir.resolve("missing") + ", which does not exist"),
                refused.err());
        assertFalse(Files.exists(dir.resolve("missing")));
        // An --out inside such a link: refused before Spark starts, not when the committer cannot make it.
        CliTest.Outcome inside = CliTest.run(args(dangling.resolve("o"), "--heads", "3", "--mode", "all"));
        assertEquals(2, inside.status(), inside.err());
        assertTrue(inside.err().contains(dangling + " is a symbolic link to " + dir.resolve("missing")
                + ", which does not exist"), inside.err());
        assertFalse(inside.out().contains("stage"), "nothing ran: " + inside.out());
        // generate and layout --npy into it: the same, where they once failed with Hadoop's "Mkdirs failed" trace.
        CliTest.Outcome generate = CliTest.run("generate", "--out", dangling.toString(), "--seq-len", "8", "--dim", "4");
        CliTest.Outcome layout = CliTest.run("layout", "--seq-len", "16", "--heads", "1", "--mode", "all",
                "--block-size", "4", "--npy", dangling.resolve("grid.npy").toString());
        for (CliTest.Outcome o : List.of(generate, layout)) {
            assertEquals(2, o.status(), o.err());
            assertTrue(o.err().contains(dangling + " is a symbolic link to "), o.err());
            assertFalse(o.err().contains("\tat "), o.err());
        }
        assertFalse(Files.exists(dir.resolve("missing")));
    }

    @Test
    void locationsThatAreNoPathOrNoKnownFileSystemAreBadInput() {
        String colon = dir.resolve("run:1").toString();
        String[][] cases = {
            {"--out", colon, "field 'name': expected a name without ':', got 'run:1'"},
            // Relative: refused for its name too, not offered a spelling that would then be refused.
            {"--out", "run:2", "--out run:2: field 'name': expected a name without ':', got 'run:2'"},
            {"--out", "", "'': not a path or URI"},
            {"--out", "x".repeat(209), "field 'name': expected a name of at most 208 bytes, got 209"},
            {"--out", "nosuchscheme://host/out", "nosuchscheme://host/out: no file system for its scheme"},
            {"--q", "a:b.npy", "--q 'a:b.npy': not a path or URI: 'a:' reads as a URI scheme; for a local name with ':',"
                + " write ./a:b.npy"},
            {"--k", "nosuchscheme://host/k.npy", "--k nosuchscheme://host/k.npy: no file system for its scheme"},
            {"--q", "file://data/q.npy", "--q file://data/q.npy: not a location of file:///"},
            {"--out", "file://data/out", "file://data/out: not a location of file:///"},
            {"--v", "hdfs:///v.npy", "--v hdfs:///v.npy: cannot open its file system"},
        };
        for (String[] c : cases) {
            String[] all = args(dir.resolve("out"), "--heads", "3", "--mode", "all");
            int at = Arrays.asList(all).indexOf(c[0]) + 1;
            all[at] = c[1];
            CliTest.Outcome o = CliTest.run(all);
            assertEquals(2, o.status(), c[0] + " " + c[1] + ": " + o.err());
            assertTrue(o.err().contains(c[2]), "'" + o.err() + "' lacks '" + c[2] + "'");
            assertFalse(o.err().contains("\tat "), "no stack trace: " + o.err());
        }
        assertFalse(Files.exists(dir.resolve("out")));
        assertFalse(Files.exists(Path.of(colon)));
    }

    /** A link whose directory's name has ':' is refused for that name, before Spark starts, as the name itself is. */
    @Test
    void anOutputLinkToANameWithAColonIsRefusedForThatName() throws IOException {
        Path target = Files.createDirectories(dir.resolve("run:3"));
        Path link = Files.createSymbolicLink(dir.resolve("latest"), target);
        CliTest.Outcome o = CliTest.run(args(link, "--heads", "3", "--mode", "all", "--overwrite"));
        assertEquals(2, o.status(), o.err());
        assertTrue(o.err().contains("--out " + link + ": field 'name': expected a name without ':', got 'run:3'"),
                o.err());
        assertFalse(o.out().contains("plan: "), o.out());
        assertEquals(List.of(), Files.list(target).toList(), "the link's directory is as it was");
    }

    /** The longest name --out takes is written, and replaced: the names made beside it fit too. */
    @Test
    void theLongestOutputNameIsWrittenAndReplaced() throws IOException {
        Path out = dir.resolve("y".repeat(208));
        for (int run = 0; run < 2; run++) {
            CliTest.Outcome o = CliTest.run(args(out, "--heads", "3", "--mode", "all", "--overwrite"));
            assertEquals(0, o.status(), o.err());
        }
        assertEquals(List.of(out.getFileName().toString()),
                Files.list(dir).map(p -> p.getFileName().toString()).filter(n -> n.contains("yyy")).toList());
        // A link to a longer name: refused for that name, before Spark starts.
        Path longer = Files.createDirectories(dir.resolve("z".repeat(230)));
        Path link = Files.createSymbolicLink(dir.resolve("short"), longer);
        CliTest.Outcome refused = CliTest.run(args(link, "--heads", "3", "--mode", "all", "--overwrite"));
        assertEquals(2, refused.status(), refused.err());
        assertTrue(refused.err().contains("--out " + link + ": field 'name': expected a name of at most 208 bytes, got"
                + " 230 ('" + "z".repeat(230) + "', where a link on its path leads)"), refused.err());
        assertFalse(refused.out().contains("plan: "), refused.out());
    }

    /**
     * An input that is a link to nothing names where it points; one that is no regular file (a
     * named pipe, which would block the read) is refused before it is opened.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void inputsThatAreNoRegularFileAreNamedForWhatTheyAre() throws Exception {
        Path dangling = Files.createSymbolicLink(dir.resolve("gone.npy"), dir.resolve("missing.npy"));
        String[] run = args(dir.resolve("out"), "--heads", "3", "--mode", "all");
        run[Arrays.asList(run).indexOf("--q") + 1] = dangling.toString();
        CliTest.Outcome o = CliTest.run(run);
        assertEquals(2, o.status(), o.err());
        assertTrue(o.err().contains("--q " + dangling + ": a symbolic link to " + dir.resolve("missing.npy")
                + ", which does not exist"), o.err());
        Path fifo = dir.resolve("pipe.npy");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        run[Arrays.asList(run).indexOf("--q") + 1] = fifo.toString();
        CliTest.Outcome pipe = CliTest.run(run);
        assertEquals(2, pipe.status(), pipe.err());
        assertTrue(pipe.err().contains(fifo + ": expected a regular file, got a named pipe, device or socket"),
                pipe.err());
        assertFalse(Files.exists(dir.resolve("out")));
    }

    /** What runs on --out left beside it is named on each run, and left where it is. */
    @Test
    void whatEarlierRunsLeftBesideTheOutputIsNamed() throws IOException {
        Path staging = Files.createDirectories(dir.resolve(".out.staging-" + java.util.UUID.randomUUID()));
        Path aside = Files.createDirectories(dir.resolve(".out.replaced-" + java.util.UUID.randomUUID()));
        Path other = Files.createDirectories(dir.resolve(".other.staging-" + java.util.UUID.randomUUID()));
        // A finished output that could not be put in place: _SUCCESS is written last.
        Path finished = Files.createDirectories(dir.resolve(".out.staging-" + java.util.UUID.randomUUID()));
        Files.writeString(finished.resolve("_SUCCESS"), "");
        // Not a name this tool makes for --out: a prefix alone is not enough.
        Path notes = Files.createDirectories(dir.resolve(".out.staging-notes"));
        CliTest.Outcome o = CliTest.run(args(dir.resolve("out"), "--heads", "3", "--mode", "all"));
        assertEquals(0, o.status(), o.err());
        assertTrue(o.err().contains("warning: file:" + staging + " is the unfinished output of a run on --out that was"
                + " killed, or of one still running: remove it once no run is using it"), o.err());
        assertTrue(o.err().contains("warning: file:" + finished + " holds the complete output of a run on --out that"
                + " could not put it in place (that run's error named it): move it where you want it, or remove it"), o.err());
        assertFalse(o.err().contains(finished + " is the unfinished"), o.err());
        assertTrue(o.err().contains("warning: file:" + aside + " holds what an --overwrite of --out moved aside and"
                + " could not delete: remove it yourself"), o.err());
        assertFalse(o.err().contains(other.getFileName().toString()) || o.err().contains(notes.getFileName().toString()),
                o.err());
        assertTrue(Files.isDirectory(staging) && Files.isDirectory(aside) && Files.isDirectory(other));
    }
}
