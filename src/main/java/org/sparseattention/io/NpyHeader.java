package org.sparseattention.io;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.sparseattention.errors.InvalidInputException;

/**
 * The validated header of a {@code .npy} file: element type, byte order, shape and where the
 * data starts. {@link #parse} checks every field, and the data size against the file length,
 * before anything is read; every message names the file, the field and both values.
 */
public record NpyHeader(String file, NpyDType dtype, ByteOrder order, long[] shape, long dataOffset) {
    /** A float descriptor in NumPy's code form: an optional byte order, then the code. */
    private static final Pattern FLOAT_DESCR = Pattern.compile("([<>|=]?)(f4|f8|f2|f|d|e)");
    private static final Map<String, String> CODES = Map.of("f4", "f4", "f8", "f8", "f2", "f2", "f", "f4", "d", "f8",
            "e", "f2");
    /** Float type names numpy.dtype reads, in the native order ('float' is float64, as in NumPy). */
    private static final Map<String, String> NAMES = Map.of("float32", "f4", "single", "f4", "float64", "f8",
            "double", "f8", "float", "f8", "float16", "f2", "half", "f2");

    static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** Longest header read: real headers are under 200 bytes. */
    static final int MAX_HEADER_BYTES = 1 << 20;

    public NpyHeader {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Returns the number of elements (0 for a shape with a size 0, however large the others). */
    public long elements() {
        for (long size : shape) {
            if (size == 0) {
                return 0;
            }
        }
        long n = 1;
        for (long size : shape) {
            n = Math.multiplyExact(n, size);
        }
        return n;
    }

    /** Returns the number of data bytes the shape and type imply. */
    public long dataBytes() {
        return Math.multiplyExact(elements(), (long) dtype.size());
    }

    /** Returns the number of bytes of the fixed prefix before the header text of {@code version}. */
    static int prefixLength(int version) {
        return version == 1 ? 10 : 12;
    }

    /**
     * Returns how many leading bytes of the file {@link #parse} needs, from at least its first 12
     * (or all of a shorter file); validates the magic, version and header length on the way.
     */
    public static long headerEnd(String file, byte[] first, long fileLength) {
        try {
            parse(file, first, fileLength);
        } catch (NeedMoreBytes e) {
            return e.needed;
        }
        return first.length;
    }

    /** Thrown inside {@link #headerEnd} when the header is longer than the bytes at hand. */
    private static final class NeedMoreBytes extends RuntimeException {
        final long needed;

        NeedMoreBytes(long needed) {
            super(null, null, false, false);
            this.needed = needed;
        }
    }

    /**
     * Parses and validates the header in {@code bytes} (the first bytes of the file) for a file
     * of {@code fileLength} bytes called {@code file}.
     */
    static NpyHeader parse(String file, byte[] bytes, long fileLength) {
        if (fileLength == 0) {
            throw bad(file, "length", "a .npy file of at least " + (MAGIC.length + 4) + " bytes", "an empty file");
        }
        if (fileLength < MAGIC.length + 4 && bytes.length == fileLength
                && Arrays.equals(Arrays.copyOf(bytes, Math.min(bytes.length, MAGIC.length)),
                        Arrays.copyOf(MAGIC, Math.min(bytes.length, MAGIC.length)))) {
            throw bad(file, "length", "at least " + (MAGIC.length + 4) + " bytes (magic, version, header length)",
                    fileLength + " bytes");
        }
        if (bytes.length < MAGIC.length + 2 || !Arrays.equals(Arrays.copyOf(bytes, MAGIC.length), MAGIC)) {
            throw bad(file, "magic", "\\x93NUMPY", printable(Arrays.copyOf(bytes, Math.min(bytes.length, 6))));
        }
        int major = bytes[6] & 0xff;
        int minor = bytes[7] & 0xff;
        if (major < 1 || major > 3 || minor != 0) {
            throw bad(file, "version", "1.0, 2.0 or 3.0", major + "." + minor);
        }
        int prefix = prefixLength(major);
        if (fileLength < prefix) {
            throw bad(file, "header length", "a " + prefix + "-byte prefix", fileLength + " bytes in the file");
        }
        if (bytes.length < prefix) {
            throw new NeedMoreBytes(prefix);
        }
        long headerLength = major == 1
                ? (bytes[8] & 0xff) | (bytes[9] & 0xff) << 8
                : (bytes[8] & 0xffL) | (bytes[9] & 0xffL) << 8 | (bytes[10] & 0xffL) << 16 | (bytes[11] & 0xffL) << 24;
        long dataOffset = prefix + headerLength;
        if (dataOffset > fileLength) {
            throw bad(file, "header length", "at most " + (fileLength - prefix) + " (the bytes after the prefix)",
                    String.valueOf(headerLength));
        }
        if (headerLength > MAX_HEADER_BYTES) {
            throw bad(file, "header length", "at most " + MAX_HEADER_BYTES, String.valueOf(headerLength));
        }
        if (bytes.length < dataOffset) {
            throw new NeedMoreBytes(dataOffset);
        }
        String text = new String(bytes, prefix, (int) headerLength,
                major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        checkLengthFits(file, text, headerLength);
        Map<String, String> fields = dictionary(file, text.strip());
        for (String key : fields.keySet()) {
            if (!List.of("descr", "fortran_order", "shape").contains(key)) {
                throw bad(file, "header", "the keys 'descr', 'fortran_order' and 'shape'", "key '" + key + "'");
            }
        }
        String given = descr(file, required(file, fields, "descr"));
        // NumPy reads the descriptor as numpy.dtype does: a byte-order character or none (native
        // order, as for '=' and '|'), then a code ('f4', or 'f', 'd', 'e'); or a name ('float32').
        Matcher code = FLOAT_DESCR.matcher(given);
        boolean coded = code.matches();
        String canonical = coded ? CODES.get(code.group(2)) : NAMES.get(given);
        if (canonical == null) {
            throw bad(file, "descr", FLOAT_TYPES, "'" + given + "'");
        }
        char orderCode = coded && !code.group(1).isEmpty() ? code.group(1).charAt(0) : '=';
        ByteOrder order = orderCode == '>' ? ByteOrder.BIG_ENDIAN
                : orderCode == '<' ? ByteOrder.LITTLE_ENDIAN : ByteOrder.nativeOrder();
        String fortran = required(file, fields, "fortran_order");
        if (fortran.equals("True")) {
            throw bad(file, "fortran_order", "False (C order: numpy.save(f, numpy.ascontiguousarray(a)) writes one)",
                    "True");
        }
        if (!fortran.equals("False")) {
            throw bad(file, "fortran_order", "False", fortran);
        }
        long[] shape = shape(file, required(file, fields, "shape"));
        NpyHeader header = new NpyHeader(file, NpyDType.ofCode(canonical), order, shape, dataOffset);
        long expected;
        try {
            expected = dataOffset + header.dataBytes();
        } catch (ArithmeticException e) {
            throw bad(file, "shape", "a shape whose size fits in a file", Arrays.toString(shape));
        }
        if (expected != fileLength) {
            throw bad(file, "data length", (expected - dataOffset) + " bytes for shape " + Arrays.toString(shape)
                    + " of " + given, (fileLength - dataOffset) + " bytes");
        }
        return header;
    }

    private static String required(String file, Map<String, String> fields, String key) {
        String value = fields.get(key);
        if (value == null) {
            throw bad(file, key, "a value", "no '" + key + "' in the header");
        }
        return value;
    }

    /**
     * Refuses a header length that does not match the header's text: one that runs past the newline
     * ending the dict (into the data), or one that stops before the dict's closing brace.
     */
    private static void checkLengthFits(String file, String text, long headerLength) {
        String stripped = text.strip();
        int newline = text.indexOf('\n');
        if (!stripped.endsWith("}") && newline >= 0 && text.substring(0, newline).strip().endsWith("}")) {
            throw bad(file, "header length", (newline + 1) + " (where the header's text ends, with its newline)",
                    String.valueOf(headerLength));
        }
        if (stripped.startsWith("{") && stripped.indexOf('}') < 0 && newline < 0) {
            throw bad(file, "header length", "a length that takes in the header's whole dict, up to its '}'",
                    headerLength + ", which ends the header at '"
                    + (stripped.length() > 40 ? "..." + stripped.substring(stripped.length() - 40) : stripped) + "'");
        }
    }

    /** Splits a Python dict literal of the three known keys into raw value strings. */
    private static Map<String, String> dictionary(String file, String text) {
        if (!text.startsWith("{") || !text.endsWith("}")) {
            throw bad(file, "header", "a Python dict literal {...}", "'" + abbreviate(text) + "'");
        }
        String body = text.substring(1, text.length() - 1).strip();
        Map<String, String> fields = new HashMap<>();
        int at = 0;
        while (at < body.length()) {
            char quote = body.charAt(at);
            if (quote != '\'' && quote != '"') {
                throw bad(file, "header", "a quoted key", "'" + abbreviate(body.substring(at)) + "'");
            }
            int keyEnd = body.indexOf(quote, at + 1);
            int colon = keyEnd < 0 ? -1 : keyEnd + 1;
            while (colon >= 0 && colon < body.length() && Character.isWhitespace(body.charAt(colon))) {
                colon++;
            }
            // Only spaces between a key and its colon, as Python reads a dict.
            if (colon < 0 || colon >= body.length() || body.charAt(colon) != ':') {
                throw bad(file, "header", "key: value", "'" + abbreviate(body.substring(at)) + "'");
            }
            String key = body.substring(at + 1, keyEnd);
            int valueStart = colon + 1;
            int valueEnd = valueStart;
            int depth = 0;
            while (valueEnd < body.length()) {
                char c = body.charAt(valueEnd);
                if (c == '(' || c == '[') {
                    depth++;
                } else if (c == ')' || c == ']') {
                    depth--;
                } else if (c == ',' && depth == 0) {
                    break;
                }
                valueEnd++;
            }
            if (fields.put(key, body.substring(valueStart, valueEnd).strip()) != null) {
                throw bad(file, key, "one value", "the key twice");
            }
            at = valueEnd + 1;
            while (at < body.length() && Character.isWhitespace(body.charAt(at))) {
                at++;
            }
        }
        return fields;
    }

    private static final String FLOAT_TYPES = "a float type such as '<f4', '<f8' or '<f2' ('>' for big-endian)";

    /** Returns the quoted type {@code value} names; a structured type (a list of fields) or other value is refused. */
    private static String descr(String file, String value) {
        if (value.length() >= 2 && (value.charAt(0) == '\'' || value.charAt(0) == '"')
                && value.charAt(value.length() - 1) == value.charAt(0)) {
            return value.substring(1, value.length() - 1);
        }
        throw bad(file, "descr", FLOAT_TYPES + (value.startsWith("[") ? ", not a structured type" : ""),
                abbreviate(value));
    }

    /** Parses a Python tuple of sizes: {@code ()}, {@code (5,)}, {@code (2, 3)} (a trailing L is allowed). */
    private static long[] shape(String file, String value) {
        if (!value.startsWith("(") || !value.endsWith(")")) {
            throw bad(file, "shape", "a tuple of sizes", value);
        }
        String body = value.substring(1, value.length() - 1).strip();
        if (body.isEmpty()) {
            return new long[0];
        }
        List<String> items = new ArrayList<>(Arrays.asList(body.split(",", -1)));
        boolean trailingComma = items.get(items.size() - 1).isBlank();
        if (trailingComma) {
            items.remove(items.size() - 1);
        }
        if (items.size() == 1 && !trailingComma) {
            throw bad(file, "shape", "a tuple of sizes such as (5,)", value);
        }
        long[] sizes = new long[items.size()];
        for (int i = 0; i < sizes.length; i++) {
            String size = items.get(i).strip();
            if (size.endsWith("L")) {
                size = size.substring(0, size.length() - 1);
            }
            // ASCII digits only: Character.isDigit also takes other scripts' digits, which NumPy refuses.
            if (size.isEmpty() || !size.chars().allMatch(c -> c >= '0' && c <= '9')) {
                throw bad(file, "shape", "non-negative integer sizes", value);
            }
            if (size.length() > 18) {
                throw bad(file, "shape", "sizes below 10^18", value);
            }
            sizes[i] = Long.parseLong(size);
        }
        return sizes;
    }

    private static String printable(byte[] bytes) {
        StringBuilder text = new StringBuilder();
        for (byte b : bytes) {
            int c = b & 0xff;
            text.append(c >= 32 && c < 127 ? String.valueOf((char) c) : String.format(Locale.ROOT, "\\x%02x", c));
        }
        return text.toString();
    }

    private static String abbreviate(String text) {
        return text.length() > 80 ? text.substring(0, 80) + "..." : text;
    }

    static InvalidInputException bad(String file, String field, String expected, String actual) {
        return new InvalidInputException(file + ": field '" + field + "': expected " + expected + ", got " + actual);
    }
}
