package org.sparseattention.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseattention.errors.InvalidInputException;

/** The strict reader: one corruption per test, each named with the file, the field and both values. */
class NpyFileTest {
    @TempDir
    Path dir;
    private final Storage storage = new HadoopStorage();

    /** Returns a version-1 file with header text {@code dict} and {@code data}. */
    private static byte[] file(int major, String dict, byte[] data) {
        int prefix = major == 1 ? 10 : 12;
        StringBuilder text = new StringBuilder(dict);
        while ((prefix + text.length() + 1) % 64 != 0) {
            text.append(' ');
        }
        text.append('\n');
        ByteBuffer buffer = ByteBuffer.allocate(prefix + text.length() + data.length).order(ByteOrder.LITTLE_ENDIAN);
        buffer.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
        if (major == 1) {
            buffer.putShort((short) text.length());
        } else {
            buffer.putInt(text.length());
        }
        buffer.put(text.toString().getBytes(StandardCharsets.ISO_8859_1)).put(data);
        return buffer.array();
    }

    private static String dict(String descr, String fortran, String shape) {
        return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
    }

    private static byte[] floats(ByteOrder order, float... values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(order);
        for (float v : values) {
            buffer.putFloat(v);
        }
        return buffer.array();
    }

    private String write(String name, byte[] bytes) throws IOException {
        Path file = dir.resolve(name);
        Files.write(file, bytes);
        return file.toString();
    }

    private void assertRefused(String name, byte[] bytes, String... parts) throws IOException {
        String uri = write(name, bytes);
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> NpyFile.readHeader(storage, uri));
        assertTrue(e.getMessage().contains(uri), e.getMessage());
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), "'" + e.getMessage() + "' lacks '" + part + "'");
        }
    }

    private static final float[] SIX = {1, 2, 3, 4, 5, 6};

    @Test
    void readsWhatTheWriterWrote() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        NpyWriter.write(out, new long[] {1, 2, 3}, SIX);
        String uri = write("ok.npy", out.toByteArray());
        NpyHeader header = NpyFile.readHeader(storage, uri);
        assertArrayEquals(new long[] {1, 2, 3}, header.shape());
        assertEquals(0, header.dataOffset() % 64);
        float[] rows = new float[3];
        try (Storage.Input input = storage.open(uri)) {
            NpyFile.readRows(input, header, 0, 1, 1, rows, 0);
        }
        assertArrayEquals(new float[] {4, 5, 6}, rows);
        try (Storage.Input input = storage.open(uri)) {
            NpyFile.readRows(input, header, 0, 2, 0, rows, 0);
        }
        assertArrayEquals(new float[] {4, 5, 6}, rows, "reading no rows changes nothing");
    }

    @Test
    void convertsFloat64Float16AndBigEndianToFloat32() throws IOException {
        ByteBuffer f8 = ByteBuffer.allocate(48).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer f2 = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        short[] halves = {0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600};
        for (int i = 0; i < 6; i++) {
            f8.putDouble(SIX[i]);
            f2.putShort(halves[i]);
        }
        for (Object[] c : new Object[][] {
            {"f8.npy", file(1, dict("<f8", "False", "(2, 3)"), f8.array())},
            {"f2.npy", file(2, dict("<f2", "False", "(2, 3)"), f2.array())},
            {"be.npy", file(3, dict(">f4", "False", "(2, 3)"), floats(ByteOrder.BIG_ENDIAN, SIX))},
            // No byte-order character: the native order, as NumPy reads it.
            {"bare.npy", file(1, dict("f4", "False", "(2, 3)"), floats(ByteOrder.nativeOrder(), SIX))},
            // Other spellings numpy.dtype reads, each checked with NumPy: '|' and none are the native order.
            {"bar.npy", file(1, dict("|f4", "False", "(2, 3)"), floats(ByteOrder.nativeOrder(), SIX))},
            {"name.npy", file(1, dict("float32", "False", "(2, 3)"), floats(ByteOrder.nativeOrder(), SIX))},
            {"letter.npy", file(1, dict(">f", "False", "(2, 3)"), floats(ByteOrder.BIG_ENDIAN, SIX))},
            {"double.npy", file(1, dict("float", "False", "(2, 3)"), f8.array())},
            {"d.npy", file(1, dict("<d", "False", "(2, 3)"), f8.array())},
            {"half.npy", file(2, dict("half", "False", "(2, 3)"), f2.array())}}) {
            String uri = write((String) c[0], (byte[]) c[1]);
            NpyHeader header = NpyFile.readHeader(storage, uri);
            float[] values = new float[6];
            try (Storage.Input input = storage.open(uri)) {
                NpyFile.readRows(input, header, 0, 0, 2, values, 0);
            }
            assertArrayEquals(SIX, values, (String) c[0]);
        }
        assertEquals(Float.NEGATIVE_INFINITY, NpyFile.halfToFloat((short) 0xfc00));
        assertEquals(0x1p-24f, NpyFile.halfToFloat((short) 0x0001));
        assertTrue(Float.isNaN(NpyFile.halfToFloat((short) 0x7e00)));
    }

    @Test
    void finiteFloat64ValuesBeyondFloat32AreRefusedNotReadAsInfinity() throws IOException {
        double[] values = {1, -Float.MAX_VALUE, Double.NEGATIVE_INFINITY, Double.NaN, 2, 3, 4, 5, 6, -1e39, 7, 8};
        ByteBuffer f8 = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : values) {
            f8.putDouble(v);
        }
        String uri = write("big.npy", file(1, dict("<f8", "False", "(2, 2, 3)"), f8.array()));
        NpyHeader header = NpyFile.readHeader(storage, uri);
        float[] read = new float[12];
        try (Storage.Input input = storage.open(uri)) {
            // Batch item 0 holds a float32's largest magnitude and true infinities and NaN: read as they are.
            NpyFile.readRows(input, header, 0, 0, 2, read, 0);
            assertEquals(-Float.MAX_VALUE, read[1]);
            assertEquals(Float.NEGATIVE_INFINITY, read[2]);
            assertTrue(Float.isNaN(read[3]));
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> NpyFile.readRows(input, header, 1, 1, 1, read, 0));
            assertEquals(uri + ": value at batch 1, row 1, feature 0: expected a magnitude of at most " + Float.MAX_VALUE
                    + " (float32), got -1.0E39", e.getMessage());
        }
    }

    @Test
    void readsThroughAScratchSmallerThanARowInEveryDtype() throws IOException {
        int rows = 7;
        int columns = 5;
        float[] expected = new float[rows * columns];
        ByteBuffer f4 = ByteBuffer.allocate(expected.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer f8 = ByteBuffer.allocate(expected.length * 8).order(ByteOrder.BIG_ENDIAN);
        ByteBuffer f2 = ByteBuffer.allocate(expected.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < expected.length; i++) {
            expected[i] = i - 11;
            f4.putFloat(expected[i]);
            f8.putDouble(expected[i]);
            f2.putShort(half(expected[i]));
        }
        String shape = "(" + rows + ", " + columns + ")";
        for (Object[] c : new Object[][] {
            {"s4.npy", file(1, dict("<f4", "False", shape), f4.array())},
            {"s8.npy", file(1, dict(">f8", "False", shape), f8.array())},
            {"s2.npy", file(1, dict("<f2", "False", shape), f2.array())}}) {
            String uri = write((String) c[0], (byte[]) c[1]);
            NpyHeader header = NpyFile.readHeader(storage, uri);
            for (int scratch : new int[] {8, 12, 24, 1000}) {
                float[] values = new float[4 * columns + 1];
                values[0] = 99f;
                try (Storage.Input input = storage.open(uri)) {
                    NpyFile.readRows(input, header, 0, 2, 4, values, 1, new byte[scratch]);
                }
                assertEquals(99f, values[0], c[0] + " scratch " + scratch + ": wrote before the offset");
                assertArrayEquals(Arrays.copyOfRange(expected, 2 * columns, 6 * columns),
                        Arrays.copyOfRange(values, 1, values.length), c[0] + " scratch " + scratch);
            }
        }
    }

    @Test
    void readingFloat32RowsSaysWhetherEveryValueReadIsFinite() throws IOException {
        int rows = 6;
        int columns = 5;
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            ByteBuffer data = ByteBuffer.allocate(rows * columns * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < rows * columns; i++) {
                // One bad value, in row 3, column 4.
                data.putFloat(i == 3 * columns + 4 ? bad : i * 0.25f);
            }
            String uri = write("bad" + bad + ".npy", file(1, dict("<f4", "False", "(" + rows + ", " + columns + ")"),
                    data.array()));
            NpyHeader header = NpyFile.readHeader(storage, uri);
            // A buffer of two rows: the bad row comes in the second of two reads.
            ByteBuffer scratch = ByteBuffer.allocateDirect(2 * columns * 4);
            float[] target = new float[rows * columns];
            int[] offsets = {4 * columns, 3 * columns, 2 * columns, columns, 0};
            try (Storage.Input input = storage.open(uri)) {
                assertFalse(NpyFile.readFloat32Rows(input, header, 0, 1, 4, target, 0, null, 0, scratch), bad + " in order");
                assertFalse(NpyFile.readFloat32Rows(input, header, 0, 3, 3, target, 0, null, 0, scratch),
                        bad + " in the first of two reads");
                assertFalse(NpyFile.readFloat32Rows(input, header, 0, 1, 4, target, 0, offsets, 1, scratch),
                        bad + " placed");
                assertTrue(NpyFile.readFloat32Rows(input, header, 0, 0, 3, target, 0, null, 0, scratch), bad + " before");
                assertTrue(NpyFile.readFloat32Rows(input, header, 0, 4, 2, target, 0, offsets, 0, scratch),
                        bad + " after");
            }
        }
    }

    @Test
    void readsFloat32RowsIntoDirectBuffersInOrderAndToTheirPlaces() throws IOException {
        int rows = 9;
        int columns = 3;
        for (String order : new String[] {"<f4", ">f4"}) {
            ByteBuffer data = ByteBuffer.allocate(2 * rows * columns * 4)
                    .order(order.startsWith("<") ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN);
            for (int i = 0; i < 2 * rows * columns; i++) {
                data.putFloat(i * 0.5f - 7);
            }
            String uri = write("rows" + order.charAt(0) + ".npy", file(1, dict(order, "False",
                    "(2, " + rows + ", " + columns + ")"), data.array()));
            NpyHeader header = NpyFile.readHeader(storage, uri);
            float[] expected = new float[5 * columns];
            // The local file's own descriptor, and a store that reads byte arrays only.
            Storage.Input local = storage.open(uri);
            Storage.Input plain = new Storage.Input() {
                @Override
                public void readFully(long position, byte[] buffer, int offset, int length) throws IOException {
                    local.readFully(position, buffer, offset, length);
                }

                @Override
                public void close() {
                }
            };
            try (local) {
                NpyFile.readRows(local, header, 1, 3, 5, expected, 0);
                for (Storage.Input input : new Storage.Input[] {local, plain}) {
                    // A buffer of two rows: three reads, the last of one row.
                    ByteBuffer scratch = ByteBuffer.allocateDirect(2 * columns * 4 + 3);
                    float[] inOrder = new float[5 * columns + 2];
                    assertTrue(NpyFile.readFloat32Rows(input, header, 1, 3, 5, inOrder, 2, null, 0, scratch));
                    assertArrayEquals(expected, Arrays.copyOfRange(inOrder, 2, inOrder.length), order + " in order");
                    float[] placed = new float[5 * columns];
                    int[] offsets = {-1, 4 * columns, 0, 3 * columns, columns, 2 * columns};
                    assertTrue(NpyFile.readFloat32Rows(input, header, 1, 3, 5, placed, 0, offsets, 1, scratch));
                    for (int r = 0; r < 5; r++) {
                        assertArrayEquals(Arrays.copyOfRange(expected, r * columns, (r + 1) * columns),
                                Arrays.copyOfRange(placed, offsets[1 + r], offsets[1 + r] + columns),
                                order + " row " + r);
                    }
                }
                ByteBuffer tooSmall = ByteBuffer.allocateDirect(columns * 4 - 1);
                assertThrows(IllegalArgumentException.class,
                        () -> NpyFile.readFloat32Rows(local, header, 0, 0, 1, expected, 0, null, 0, tooSmall));
            }
        }
    }

    /** binary16 bits of a float that has an exact normal binary16 value, or of zero. */
    private static short half(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7fffffff) == 0) {
            return (short) (bits >>> 16);
        }
        int exponent = ((bits >>> 23) & 0xff) - 127 + 15;
        return (short) ((bits >>> 16) & 0x8000 | exponent << 10 | (bits & 0x7fffff) >>> 13);
    }

    @Test
    void findsTheFirstNonFiniteValueAnywhere() {
        for (int length : new int[] {0, 1, 15, 16, 17, 100}) {
            float[] values = new float[length + 3];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) Math.sin(i) * 1e30f;
            }
            assertEquals(-1, NpyFile.firstNonFinite(values, 3, length + 3), "length " + length);
            for (int at = 3; at < length + 3; at++) {
                for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
                    float[] copy = values.clone();
                    copy[at] = bad;
                    copy[length + 2] = Float.NaN;
                    assertEquals(at, NpyFile.firstNonFinite(copy, 3, length + 3), "length " + length + " at " + at);
                }
            }
            values[0] = Float.NaN;
            assertEquals(-1, NpyFile.firstNonFinite(values, 3, length + 3), "outside the range");
        }
    }

    @Test
    void missingFile() {
        String uri = dir.resolve("absent.npy").toString();
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> NpyFile.readHeader(storage, uri));
        assertTrue(e.getMessage().contains("absent.npy") && e.getMessage().contains("no such file"), e.getMessage());
    }

    @Test
    void emptyFile() throws IOException {
        assertRefused("empty.npy", new byte[0], "length", "empty");
    }

    @Test
    void wrongMagic() throws IOException {
        byte[] bytes = file(1, dict("<f4", "False", "(2, 3)"), floats(ByteOrder.LITTLE_ENDIAN, SIX));
        bytes[1] = 'X';
        assertRefused("magic.npy", bytes, "'magic'", "\\x93NUMPY", "\\x93XUMPY");
    }

    @Test
    void unsupportedVersion() throws IOException {
        byte[] bytes = file(1, dict("<f4", "False", "(2, 3)"), floats(ByteOrder.LITTLE_ENDIAN, SIX));
        bytes[6] = 4;
        assertRefused("version.npy", bytes, "'version'", "1.0, 2.0 or 3.0", "4.0");
    }

    @Test
    void headerLengthPastTheEndOfTheFile() throws IOException {
        byte[] bytes = file(1, dict("<f4", "False", "(2, 3)"), floats(ByteOrder.LITTLE_ENDIAN, SIX));
        bytes[8] = (byte) 0xff;
        bytes[9] = (byte) 0x7f;
        assertRefused("header.npy", bytes, "'header length'", "32767");
    }

    @Test
    void dataShorterByOneByte() throws IOException {
        byte[] bytes = file(1, dict("<f4", "False", "(2, 3)"), floats(ByteOrder.LITTLE_ENDIAN, SIX));
        assertRefused("short1.npy", Arrays.copyOf(bytes, bytes.length - 1), "'data length'", "24 bytes", "23 bytes");
    }

    @Test
    void dataShorterByHalf() throws IOException {
        byte[] bytes = file(1, dict("<f4", "False", "(2, 3)"), floats(ByteOrder.LITTLE_ENDIAN, SIX));
        assertRefused("half.npy", Arrays.copyOf(bytes, bytes.length - 12), "'data length'", "24 bytes", "12 bytes");
    }

    @Test
    void fortranOrder() throws IOException {
        assertRefused("fortran.npy", file(1, dict("<f4", "True", "(2, 3)"), floats(ByteOrder.LITTLE_ENDIAN, SIX)),
                "'fortran_order'", "False", "True", "numpy.ascontiguousarray(a)");
    }

    @Test
    void integerDtype() throws IOException {
        assertRefused("int.npy", file(1, dict("<i4", "False", "(2, 3)"), floats(ByteOrder.LITTLE_ENDIAN, SIX)),
                "'descr'", "'<f4'", "'<i4'");
    }

    @Test
    void complexDtype() throws IOException {
        assertRefused("complex.npy", file(1, dict("<c8", "False", "(3,)"), floats(ByteOrder.LITTLE_ENDIAN, SIX)),
                "'descr'", "'<c8'");
        assertRefused("structured.npy", file(1, "{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False,"
                + " 'shape': (3,), }", floats(ByteOrder.LITTLE_ENDIAN, SIX)), "field 'descr': expected a float type"
                + " such as '<f4', '<f8' or '<f2' ('>' for big-endian), not a structured type, got [('a', '<f4'), ('b', '<f4')]");
        // Near misses NumPy refuses, or reads as no float.
        for (String descr : new String[] {"f3", "<float32", "Float32", "<i", "|b1", "f4 "}) {
            assertRefused("near.npy", file(1, dict(descr, "False", "(2, 3)"), floats(ByteOrder.LITTLE_ENDIAN, SIX)),
                    "'descr'", "'" + descr + "'");
        }
    }

    @Test
    void malformedShapeTuples() throws IOException {
        for (String shape : new String[] {"(,)", "(3,,2)", "(,6)", "(6)", "(-6,)", "(six,)"}) {
            assertRefused("shape.npy", file(1, dict("<f4", "False", shape), floats(ByteOrder.LITTLE_ENDIAN, SIX)),
                    "'shape'", shape);
        }
        assertRefused("huge.npy", file(1, dict("<f4", "False", "(1000000000000000000, 0)"), new byte[0]),
                "'shape'", "expected sizes below 10^18");
        // No elements, however large the other sizes (NumPy reads it): read, for the checks of sizes to name the 0.
        String empty = write("empty.npy", file(1, dict("<f4", "False", "(1000000000000, 1000000000000, 0)"), new byte[0]));
        assertEquals(0, NpyFile.readHeader(storage, empty).elements());
        String uri = write("long.npy", file(1, dict("<f4", "False", "(2L, 3L)"), floats(ByteOrder.LITTLE_ENDIAN, SIX)));
        assertArrayEquals(new long[] {2, 3}, NpyFile.readHeader(storage, uri).shape());
    }

    /** What NumPy's own parser refuses: digits of other scripts (a version-3 header is UTF-8), text before a colon. */
    @Test
    void headersNumpyRefusesAreRefused() throws IOException {
        byte[] text = (dict("<f4", "False", "(\uff12, \uff13)") + "\n").getBytes(StandardCharsets.UTF_8);
        ByteBuffer v3 = ByteBuffer.allocate(12 + text.length + 24).order(ByteOrder.LITTLE_ENDIAN);
        v3.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 3, 0}).putInt(text.length).put(text)
                .put(floats(ByteOrder.LITTLE_ENDIAN, SIX));
        assertRefused("fullwidth.npy", v3.array(), "'shape'", "non-negative integer sizes");
        assertRefused("between.npy", file(1, "{'descr' xyz: '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                floats(ByteOrder.LITTLE_ENDIAN, SIX)), "'header'", "key: value");
        String spaced = write("spaced.npy", file(1, "{'descr' : '<f4', 'fortran_order':False, 'shape' :(2, 3)}",
                floats(ByteOrder.LITTLE_ENDIAN, SIX)));
        assertArrayEquals(new long[] {2, 3}, NpyFile.readHeader(storage, spaced).shape(), "spaces before a colon");
    }

    /** A header length that runs into the data, or stops inside the dict, is named as such. */
    @Test
    void headerLengthThatDoesNotMatchTheHeadersText() throws IOException {
        byte[] good = file(1, dict("<f4", "False", "(2, 3)"), floats(ByteOrder.LITTLE_ENDIAN, SIX));
        // The header's text is 118 bytes, ending with its newline, in a 128-byte header block.
        assertEquals(118, (good[8] & 0xff) | (good[9] & 0xff) << 8);
        byte[] longer = good.clone();
        longer[8] = (byte) (118 + 16);
        assertRefused("longer.npy", longer, "field 'header length': expected 118 (where the header's text ends,"
                + " with its newline), got 134");
        byte[] shorter = good.clone();
        shorter[8] = (byte) 40;
        assertRefused("shorter.npy", shorter, "field 'header length': expected a length that takes in the header's"
                + " whole dict, up to its '}', got 40, which ends the header at '{'descr': '<f4', 'fortran_order': False,'");
    }

    @Test
    void fileShorterThanThePrefix() throws IOException {
        assertRefused("tiny.npy", Arrays.copyOf(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1}, 7), "'length'",
                "7 bytes");
    }

    @Test
    void rankOtherThanTwoOrThree() throws IOException {
        String uri = write("rank4.npy", file(1, dict("<f4", "False", "(1, 1, 2, 3)"), floats(ByteOrder.LITTLE_ENDIAN, SIX)));
        NpyHeader header = NpyFile.readHeader(storage, uri);
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> NpyFile.batchShape(header));
        assertTrue(e.getMessage().contains("rank 4") && e.getMessage().contains(uri), e.getMessage());
        String rank2 = write("rank2.npy", file(1, dict("<f4", "False", "(2, 3)"), floats(ByteOrder.LITTLE_ENDIAN, SIX)));
        assertArrayEquals(new long[] {1, 2, 3}, NpyFile.batchShape(NpyFile.readHeader(storage, rank2)));
    }
}
