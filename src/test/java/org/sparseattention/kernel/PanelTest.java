package org.sparseattention.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.sparseattention.TestArrays.normal;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The output product gives the same bits wherever the value rows are: side by side (packed),
 * in blocks apart from each other (in place, another block size), or each somewhere else.
 */
class PanelTest {

    @ParameterizedTest(name = "D={0} columns={1} keys={2}")
    @CsvSource({"8, 64, 150", "64, 64, 200", "12, 48, 130", "5, 64, 70"})
    void theOutputsBitsDependOnTheKeysOrderOnly(int depth, int ld, int keyCount) {
        float[] weights = normal(1, keyCount * ld);
        for (int i = 0; i < weights.length; i++) {
            weights[i] = Math.abs(weights[i]);
        }
        float[] rows = normal(2, keyCount * depth);
        // Packed: key c at c * depth.
        int[] packed = new int[keyCount];
        for (int c = 0; c < keyCount; c++) {
            packed[c] = c * depth;
        }
        float[] expected = new float[depth * ld];
        TileMath.output(rows, packed, keyCount, weights, ld, depth, expected);

        // Blocks of 56 keys, in place in rows of 3 * depth, the blocks in reverse order in memory.
        float[] blocks = new float[(keyCount + 56) * 3 * depth];
        int[] inBlocks = new int[keyCount];
        int blockCount = (keyCount + 55) / 56;
        for (int c = 0; c < keyCount; c++) {
            int block = blockCount - 1 - c / 56;
            inBlocks[c] = (block * 56 + c % 56) * 3 * depth;
            System.arraycopy(rows, c * depth, blocks, inBlocks[c], depth);
        }
        // Every key somewhere else: odd spacings.
        float[] scattered = new float[keyCount * (depth + 7) + depth];
        int[] everywhere = new int[keyCount];
        for (int c = 0, at = 0; c < keyCount; c++) {
            everywhere[c] = at;
            System.arraycopy(rows, c * depth, scattered, at, depth);
            at += depth + (c * 7) % 5;
        }
        for (float[][] layout : new float[][][] {{blocks}, {scattered}}) {
            int[] offsets = layout[0] == blocks ? inBlocks : everywhere;
            float[] actual = new float[depth * ld];
            TileMath.output(layout[0], offsets, keyCount, weights, ld, depth, actual, null, null, new float[0]);
            assertArrayEquals(expected, actual, layout[0] == blocks ? "blocks of 56 in place" : "scattered rows");
        }
    }
}
