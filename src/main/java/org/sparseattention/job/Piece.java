package org.sparseattention.job;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.sparseattention.kernel.Partial;

/**
 * The part of one unit's partial result that falls in one output shard: what the shuffle carries.
 * {@code allowedPairs} is the unit's useful work, carried by one piece per unit.
 *
 * <p>The rows' outputs and then their log-sum-exps are held as little-endian float32 bytes:
 * Java serialisation copies a byte array as it is, where it converts a float array value by value
 * (about 650 MB/s here, the largest single cost of the shuffle).
 *
 * @param positions sequence position of each row, ascending
 * @param values {@code [rows, rowLength]} outputs, then {@code [rows, heads]} log-sum-exps
 */
record Piece(int frame, int chunk, int unit, int[] positions, byte[] values, long allowedPairs)
        implements Serializable, Comparable<Piece> {

    /** Copies rows {@code sources} of {@code partial}, in that order, into a piece at {@code positions}. */
    static Piece of(int frame, int chunk, int unit, int[] positions, Partial partial, int[] sources, int from,
            long allowedPairs) {
        int rows = positions.length;
        int rowLength = partial.heads() * partial.headDim();
        int heads = partial.heads();
        byte[] values = new byte[Math.multiplyExact(rows, rowLength + heads) * Float.BYTES];
        FloatBuffer target = view(values);
        for (int r = 0; r < rows; r++) {
            target.put(partial.output(), sources[from + r] * rowLength, rowLength);
        }
        for (int r = 0; r < rows; r++) {
            target.put(partial.logSumExp(), sources[from + r] * heads, heads);
        }
        return new Piece(frame, chunk, unit, positions, values, allowedPairs);
    }

    /** Returns this piece as a partial result whose positions are shifted by {@code -rowStart}. */
    Partial toPartial(int rowStart, int heads, int headDim) {
        int rows = positions.length;
        int[] local = new int[rows];
        for (int r = 0; r < rows; r++) {
            local[r] = positions[r] - rowStart;
        }
        float[] output = new float[rows * heads * headDim];
        float[] logSumExp = new float[rows * heads];
        FloatBuffer source = view(values);
        source.get(output);
        source.get(logSumExp);
        return new Partial(local, heads, headDim, output, logSumExp);
    }

    private static FloatBuffer view(byte[] values) {
        return ByteBuffer.wrap(values).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    }

    /** Orders pieces for merging: by frame, then chunk (SEMANTICS.md), then unit. */
    @Override
    public int compareTo(Piece other) {
        int byFrame = Integer.compare(frame, other.frame);
        if (byFrame != 0) {
            return byFrame;
        }
        int byChunk = Integer.compare(chunk, other.chunk);
        return byChunk != 0 ? byChunk : Integer.compare(unit, other.unit);
    }
}
