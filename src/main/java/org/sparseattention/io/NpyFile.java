package org.sparseattention.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;

/**
 * A {@code .npy} tensor of shape {@code [B, L, E]} (rank 2 is read as {@code B = 1}) whose rows
 * are read by position, converted to float32.
 */
public final class NpyFile {
    private NpyFile() {
    }

    /** Reads and validates the header of {@code uri}; messages name the file by it. */
    public static NpyHeader readHeader(Storage storage, String uri) throws IOException {
        long length = storage.length(uri);
        try (Storage.Input input = storage.open(uri)) {
            return readHeader(input, uri, length);
        } catch (IOException e) {
            throw new SparseAttentionException(uri + ": could not read the header: " + e.getMessage(), e);
        }
    }

    private static NpyHeader readHeader(Storage.Input input, String uri, long length) throws IOException {
        byte[] first = new byte[(int) Math.min(length, 12)];
        input.readFully(0, first, 0, first.length);
        long needed = NpyHeader.headerEnd(uri, first, length);
        byte[] bytes = first;
        if (needed > first.length) {
            bytes = new byte[(int) needed];
            input.readFully(0, bytes, 0, bytes.length);
        }
        return NpyHeader.parse(uri, bytes, length);
    }

    /** Returns {@code [B, L, E]} of a header of rank 3, or {@code [1, L, E]} of rank 2; refuses others. */
    public static long[] batchShape(NpyHeader header) {
        long[] shape = header.shape();
        if (shape.length == 3) {
            return shape;
        }
        if (shape.length == 2) {
            return new long[] {1, shape[0], shape[1]};
        }
        throw new InvalidInputException(header.file() + ": field 'shape': expected rank 3 [B, L, E] or 2 [L, E], got rank "
                + shape.length + " " + Arrays.toString(shape));
    }

    /** Bytes read per call by {@link #readRows}: large reads stay in the caches and need no large buffer. */
    public static final int READ_CHUNK = 256 * 1024;

    /**
     * Reads rows {@code [row, row + count)} of batch item {@code batch} into
     * {@code target[targetOffset ..]} as float32.
     */
    public static void readRows(Storage.Input input, NpyHeader header, int batch, int row, int count,
            float[] target, int targetOffset) throws IOException {
        int itemSize = header.dtype().size();
        long bytes = count * batchShape(header)[2] * itemSize;
        readRows(input, header, batch, row, count, target, targetOffset,
                new byte[(int) Math.max(itemSize, Math.min(bytes, READ_CHUNK))]);
    }

    /**
     * Reads like {@link #readRows(Storage.Input, NpyHeader, int, int, int, float[], int)} through
     * {@code scratch} (any length of at least one element; {@link #READ_CHUNK} is plenty), so that
     * repeated reads allocate nothing.
     */
    public static void readRows(Storage.Input input, NpyHeader header, int batch, int row, int count,
            float[] target, int targetOffset, byte[] scratch) throws IOException {
        long[] shape = batchShape(header);
        long rowLength = shape[2];
        long first = ((long) batch * shape[1] + row) * rowLength;
        int elements = Math.toIntExact(count * rowLength);
        int itemSize = header.dtype().size();
        int perRead = scratch.length / itemSize;
        if (perRead < 1) {
            throw new IllegalArgumentException("scratch of " + scratch.length + " bytes holds no " + itemSize + "-byte element");
        }
        for (int done = 0; done < elements; done += perRead) {
            int n = Math.min(perRead, elements - done);
            input.readFully(header.dataOffset() + (first + done) * itemSize, scratch, 0, n * itemSize);
            ByteBuffer buffer = ByteBuffer.wrap(scratch, 0, n * itemSize).order(header.order());
            int at = targetOffset + done;
            switch (header.dtype()) {
                case FLOAT32 -> buffer.asFloatBuffer().get(target, at, n);
                case FLOAT64 -> {
                    for (int i = 0; i < n; i++) {
                        double value = buffer.getDouble(i * 8);
                        float narrowed = (float) value;
                        if (Float.isInfinite(narrowed) && !Double.isInfinite(value)) {
                            throw outOfFloat32Range(header, first + done + i, value);
                        }
                        target[at + i] = narrowed;
                    }
                }
                case FLOAT16 -> {
                    for (int i = 0; i < n; i++) {
                        target[at + i] = halfToFloat(buffer.getShort(i * 2));
                    }
                }
                default -> throw new AssertionError(header.dtype());
            }
        }
    }

    /**
     * Returns the error for a finite float64 value that float32 cannot hold: converted, it would
     * read as an infinity that the file does not contain.
     */
    private static InvalidInputException outOfFloat32Range(NpyHeader header, long element, double value) {
        long[] shape = batchShape(header);
        return new InvalidInputException(header.file() + ": value at batch " + element / (shape[1] * shape[2]) + ", row "
                + element / shape[2] % shape[1] + ", feature " + element % shape[2]
                + ": expected a magnitude of at most " + Float.MAX_VALUE + " (float32), got " + value);
    }

    /**
     * Reads float32 rows {@code [row, row + count)} of batch item {@code batch} through the direct
     * buffer {@code scratch}, which must hold a row: row {@code i} to
     * {@code target[rowOffsets[rowOffsetsFrom + i] ..]}, or, when {@code rowOffsets} is null, all
     * rows one after another from {@code target[targetOffset]}. Rows placed one by one need no
     * staging copy when they are held in another order than the file's. Returns whether every
     * value read is finite: each piece is checked just after its copy, while it is still in the
     * cache, where a later pass over all rows would read them from memory again.
     */
    public static boolean readFloat32Rows(Storage.Input input, NpyHeader header, int batch, int row, int count,
            float[] target, int targetOffset, int[] rowOffsets, int rowOffsetsFrom, ByteBuffer scratch)
            throws IOException {
        if (header.dtype() != NpyDType.FLOAT32) {
            throw new IllegalArgumentException(header.file() + " holds " + header.dtype() + ", not float32");
        }
        long[] shape = batchShape(header);
        int rowLength = Math.toIntExact(shape[2]);
        int rowBytes = rowLength * Float.BYTES;
        int perRead = scratch.capacity() / rowBytes;
        if (perRead < 1) {
            throw new IllegalArgumentException("scratch of " + scratch.capacity() + " bytes holds no row of "
                    + rowBytes);
        }
        scratch.order(header.order());
        long first = header.dataOffset() + ((long) batch * shape[1] + row) * rowBytes;
        boolean finite = true;
        for (int done = 0; done < count; done += perRead) {
            int rows = Math.min(perRead, count - done);
            scratch.clear().limit(rows * rowBytes);
            input.readFully(first + (long) done * rowBytes, scratch);
            scratch.flip();
            java.nio.FloatBuffer floats = scratch.asFloatBuffer();
            if (rowOffsets == null) {
                int at = targetOffset + done * rowLength;
                floats.get(target, at, rows * rowLength);
                finite = finite && firstNonFinite(target, at, at + rows * rowLength) < 0;
            } else {
                for (int r = 0; r < rows; r++) {
                    int at = rowOffsets[rowOffsetsFrom + done + r];
                    floats.get(target, at, rowLength);
                    finite = finite && firstNonFinite(target, at, at + rowLength) < 0;
                }
            }
        }
        return finite;
    }

    /**
     * Returns the index of the first NaN or infinite value of {@code values[from .. to)}, or -1.
     * Vectorised: {@code x - x} is 0 for every finite {@code x} and NaN otherwise, so one pass of
     * subtractions and additions finds whether there is any, at memory speed.
     */
    public static int firstNonFinite(float[] values, int from, int to) {
        VectorSpecies<Float> species = FloatVector.SPECIES_PREFERRED;
        FloatVector any = FloatVector.zero(species);
        int i = from;
        for (; i + species.length() <= to; i += species.length()) {
            FloatVector x = FloatVector.fromArray(species, values, i);
            any = any.add(x.sub(x));
        }
        float tail = 0f;
        for (; i < to; i++) {
            tail += values[i] - values[i];
        }
        if (any.reduceLanes(VectorOperators.ADD) + tail == 0f) {
            return -1;
        }
        for (int e = from; e < to; e++) {
            if (!Float.isFinite(values[e])) {
                return e;
            }
        }
        return -1;
    }

    /** Returns the float32 value of IEEE 754 binary16 bits (Float.float16ToFloat arrived in Java 20). */
    static float halfToFloat(short bits) {
        int sign = (bits & 0x8000) << 16;
        int exponent = (bits >> 10) & 0x1f;
        int mantissa = bits & 0x3ff;
        if (exponent == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | mantissa << 13);
        }
        if (exponent == 0) {
            float magnitude = mantissa * 0x1p-24f;
            return sign == 0 ? magnitude : -magnitude;
        }
        return Float.intBitsToFloat(sign | (exponent + 112) << 23 | mantissa << 13);
    }
}
