package org.sparseattention.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.sparseattention.errors.InvalidInputException;

class InputFilesTest {
    @Test
    void aShardWhoseOutputNoArrayHoldsIsRefused() {
        // The largest E, 2^20, in shards of 2048 rows: exactly 2^31 output values.
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> InputFiles.checkShardSize(2048, 1 << 20, 1 << 20));
        assertEquals("--shard-rows 2048: expected at most 2147483639 output values per shard, got 2048 rows x E = 1048576"
                + " = 2147483648; choose fewer rows per shard", e.getMessage());
        // One row fewer fits; so do long shards of a short sequence, which hold only its rows.
        InputFiles.checkShardSize(2047, 1 << 20, 1 << 20);
        InputFiles.checkShardSize(1 << 30, 2047, 1 << 20);
    }
}
