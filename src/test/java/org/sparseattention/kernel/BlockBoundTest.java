package org.sparseattention.kernel;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.Patterns;

/** A pass whose scores no array holds is refused by name, not by an index out of bounds or a wrapped size. */
class BlockBoundTest {
    private static final long MAX = Integer.MAX_VALUE - 8L;

    /** Scores of a block against itself: its rows by its rows padded to whole vectors, from the definition. */
    private static long selfScores(long rows) {
        long lanes = TileMath.LANES;
        return rows * ((rows + lanes - 1) / lanes * lanes);
    }

    private static BlockLayout allIn(int seqLen, int blockSize) {
        return BlockLayout.of(Patterns.parse("all", 0, blockSize, 1, 1), seqLen, blockSize, 1);
    }

    @Test
    void aBlockWhoseScoresAgainstItselfFitIsAllowedAndTheNextRefused() {
        int largest = 1;
        while (selfScores(largest + 1) <= MAX) {
            largest++;
        }
        int fits = largest;
        assertDoesNotThrow(() -> BlockSparseKernel.requirePassesFit(allIn(fits, fits), 64));
        InvalidInputException refused = assertThrows(InvalidInputException.class,
                () -> BlockSparseKernel.requirePassesFit(allIn(fits + 1, fits + 1), 64));
        assertTrue(refused.getMessage().startsWith("block size (--block-size) " + (fits + 1) + ": the scores of a"
                + " block's " + (fits + 1) + " rows against " + (fits + 1) + " key rows of one pass (one key block)"),
                refused.getMessage());
        // A block longer than the sequence has only the sequence's rows.
        assertDoesNotThrow(() -> BlockSparseKernel.requirePassesFit(allIn(100, Integer.MAX_VALUE), 64));
    }

    @Test
    void aPassOverMoreKeyBlocksThanAnArrayHoldsIsRefusedWhenItsScoresAreSized() {
        // `all` in blocks of 8192: the 40th block's pass has 40 x 8192 keys by 8192 queries, 2.7e9 scores.
        int blockSize = 8192;
        int seqLen = 40 * blockSize;
        BlockLayout layout = BlockLayout.of(Patterns.parse("all", 0, blockSize, 1, 1), seqLen, blockSize, 1);
        BlockSparseKernel kernel = new BlockSparseKernel(layout, 1, 1f);
        float[] data = new float[seqLen];
        Rows rows = Rows.dense(data, 0, 1);
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> kernel.compute(rows, rows, rows, 0, 39, 40, 0, Integer.MAX_VALUE));
        assertTrue(e.getMessage().startsWith("block size (--block-size) 8192: the scores of a block's 8192 rows"
                + " against 327680 key rows of one pass (40 key blocks)"), e.getMessage());
        // The in-process entry refuses such a layout before any work, on the first pass too large (the 32nd block's).
        InvalidInputException early = assertThrows(InvalidInputException.class,
                () -> SparseForward.forward(data, data, data, 1, layout, 1, 1f, 64));
        assertTrue(early.getMessage().contains("against 262144 key rows of one pass (32 key blocks)"),
                early.getMessage());
    }
}
