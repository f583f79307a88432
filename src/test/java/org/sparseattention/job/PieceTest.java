package org.sparseattention.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import org.junit.jupiter.api.Test;
import org.sparseattention.kernel.Partial;

class PieceTest {

    @Test
    void carriesTheChosenRowsThroughJavaSerialisation() throws IOException, ClassNotFoundException {
        int heads = 3;
        int headDim = 5;
        int rowLength = heads * headDim;
        int rows = 4;
        float[] output = new float[rows * rowLength];
        float[] lse = new float[rows * heads];
        for (int i = 0; i < output.length; i++) {
            output[i] = i * 0.25f - 3;
        }
        for (int i = 0; i < lse.length; i++) {
            lse[i] = i == 4 ? Float.NEGATIVE_INFINITY : -i * 1.5f;
        }
        Partial partial = new Partial(new int[] {40, 10, 30, 20}, heads, headDim, output, lse);
        // Rows 1 and 3 of the partial (positions 10 and 20), in that order.
        Piece piece = Piece.of(partial, new int[] {0, 1, 3}, 1, 2, 99);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(piece);
        }
        Piece back;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            back = (Piece) in.readObject();
        }
        assertEquals(99, back.allowedPairs());
        Partial shifted = back.toPartial(8, heads, headDim);
        assertArrayEquals(new int[] {2, 12}, shifted.positions());
        float[] expectedOutput = new float[2 * rowLength];
        System.arraycopy(output, rowLength, expectedOutput, 0, rowLength);
        System.arraycopy(output, 3 * rowLength, expectedOutput, rowLength, rowLength);
        assertArrayEquals(expectedOutput, shifted.output());
        assertArrayEquals(new float[] {lse[3], Float.NEGATIVE_INFINITY, lse[5], lse[9], lse[10], lse[11]},
                shifted.logSumExp());
    }
}
