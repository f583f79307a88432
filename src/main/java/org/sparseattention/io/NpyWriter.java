package org.sparseattention.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.stream.Collectors;

/** Writes little-endian C-order {@code .npy} files (format 1.0, or 2.0 for very long headers). */
public final class NpyWriter {
    private NpyWriter() {
    }

    /** The type string of what this writes: little-endian float32. */
    public static final String FLOAT32 = NpyDType.FLOAT32.descr(ByteOrder.LITTLE_ENDIAN);

    /** Returns the header bytes for {@code dtype} and {@code shape}, padded to 64 bytes as NumPy does. */
    public static byte[] header(String descr, long[] shape) {
        String dims = Arrays.stream(shape).mapToObj(Long::toString).collect(Collectors.joining(", "));
        if (shape.length == 1) {
            dims += ",";
        }
        String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
        int version = dict.length() + 11 > 65535 ? 2 : 1;
        int prefix = NpyHeader.prefixLength(version);
        int total = (prefix + dict.length() + 1 + 63) / 64 * 64;
        StringBuilder text = new StringBuilder(dict);
        while (prefix + text.length() + 1 < total) {
            text.append(' ');
        }
        text.append('\n');
        ByteBuffer buffer = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        buffer.put(NpyHeader.MAGIC).put((byte) version).put((byte) 0);
        if (version == 1) {
            buffer.putShort((short) text.length());
        } else {
            buffer.putInt(text.length());
        }
        buffer.put(text.toString().getBytes(StandardCharsets.ISO_8859_1));
        return buffer.array();
    }

    /** Writes {@code values[offset .. offset + count)} as little-endian float32. */
    public static void writeFloats(OutputStream out, float[] values, int offset, int count) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(Math.min(count, 1 << 16) * 4).order(ByteOrder.LITTLE_ENDIAN);
        int done = 0;
        while (done < count) {
            int n = Math.min(count - done, buffer.capacity() / 4);
            buffer.clear();
            buffer.asFloatBuffer().put(values, offset + done, n);
            out.write(buffer.array(), 0, n * 4);
            done += n;
        }
    }

    /** Writes a whole float32 array file of {@code shape}. */
    public static void write(OutputStream out, long[] shape, float[] values) throws IOException {
        out.write(header(FLOAT32, shape));
        writeFloats(out, values, 0, values.length);
    }
}
