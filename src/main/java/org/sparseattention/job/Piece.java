package org.sparseattention.job;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import org.sparseattention.kernel.Partial;

/**
 * The part of one unit's partial result that falls in one output shard: what the shuffle carries,
 * under its {@link PieceKey}. {@code allowedPairs} is the unit's useful work, carried by one piece
 * per unit.
 *
 * <p>The rows' positions, their outputs and then their log-sum-exps are held as little-endian
 * bytes: Java serialisation copies a byte array as it is, where it converts int and float arrays
 * value by value (about 650 MB/s here for floats, the largest single cost of the shuffle, and
 * reading an int array of a few rows costs several small reads of the shuffle file).
 *
 * @param values {@code [rows]} int32 positions, ascending, then {@code [rows, rowLength]} float32
 *     outputs, then {@code [rows, heads]} float32 log-sum-exps
 */
record Piece(int rows, byte[] values, long allowedPairs)
        implements Serializable {

    /** Copies rows {@code sources[from .. from + rows)} of {@code partial}, in that order, into a piece. */
    static Piece of(Partial partial, int[] sources, int from, int rows, long allowedPairs) {
        int rowLength = partial.heads() * partial.headDim();
        int heads = partial.heads();
        byte[] values = new byte[Math.multiplyExact(rows, 1 + rowLength + heads) * Float.BYTES];
        ByteBuffer target = ByteBuffer.wrap(values).order(ByteOrder.LITTLE_ENDIAN);
        IntBuffer positions = target.asIntBuffer();
        for (int r = 0; r < rows; r++) {
            positions.put(partial.positions()[sources[from + r]]);
        }
        target.position(rows * Integer.BYTES);
        FloatBuffer floats = target.slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        for (int r = 0; r < rows; r++) {
            floats.put(partial.output(), sources[from + r] * rowLength, rowLength);
        }
        for (int r = 0; r < rows; r++) {
            floats.put(partial.logSumExp(), sources[from + r] * heads, heads);
        }
        return new Piece(rows, values, allowedPairs);
    }

    /** Returns this piece as a partial result whose positions are shifted by {@code -rowStart}. */
    Partial toPartial(int rowStart, int heads, int headDim) {
        ByteBuffer source = ByteBuffer.wrap(values).order(ByteOrder.LITTLE_ENDIAN);
        int[] local = new int[rows];
        source.asIntBuffer().get(local);
        for (int r = 0; r < rows; r++) {
            local[r] -= rowStart;
        }
        source.position(rows * Integer.BYTES);
        FloatBuffer floats = source.slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        float[] output = new float[rows * heads * headDim];
        float[] logSumExp = new float[rows * heads];
        floats.get(output);
        floats.get(logSumExp);
        return new Partial(local, heads, headDim, output, logSumExp);
    }
}
