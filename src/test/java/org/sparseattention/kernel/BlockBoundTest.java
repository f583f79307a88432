package org.sparseattention.kernel;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.Patterns;

/** A block whose scores of one pass would not fit one array is refused by name, not by an index out of bounds. */
class BlockBoundTest {
    /** Scores of a pass of {@code rows}, padded to whole vectors: counted here in long arithmetic from the definition. */
    private static long scores(long rows) {
        long lanes = TileMath.LANES;
        return BlockSparseKernel.SPLIT_ABOVE_TILES * rows * ((rows + lanes - 1) / lanes * lanes);
    }

    @Test
    void theLargestBlockThatFitsIsAllowedAndTheNextRefused() {
        long max = Integer.MAX_VALUE - 8L;
        int largest = 1;
        while (scores(largest + 1) <= max) {
            largest++;
        }
        int fits = largest;
        assertDoesNotThrow(() -> BlockSparseKernel.requireBlockFits(fits, fits));
        InvalidInputException refused = assertThrows(InvalidInputException.class,
                () -> BlockSparseKernel.requireBlockFits(fits + 1, 1_000_000));
        assertTrue(refused.getMessage().contains("block size (--block-size) " + (fits + 1)), refused.getMessage());
        assertTrue(refused.getMessage().endsWith("at most " + fits), refused.getMessage());
        // A block longer than the sequence has only the sequence's rows; an int's worth of rows wraps no count.
        assertDoesNotThrow(() -> BlockSparseKernel.requireBlockFits(Integer.MAX_VALUE, 100));
        assertThrows(InvalidInputException.class,
                () -> BlockSparseKernel.requireBlockFits(Integer.MAX_VALUE, Integer.MAX_VALUE));
    }

    @Test
    void theKernelRefusesSuchALayoutWhenMade() {
        BlockLayout layout = BlockLayout.of(Patterns.parse("all", 0, 50_000, 1, 1), 50_000, 50_000, 1);
        assertThrows(InvalidInputException.class, () -> new BlockSparseKernel(layout, 4, 0.5f));
    }
}
