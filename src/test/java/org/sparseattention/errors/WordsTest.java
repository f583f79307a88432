package org.sparseattention.errors;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.sparseattention.job.RunSummary;
import org.sparseattention.plan.PlanFigures;

/** Console lines count in English: one unit, two units. */
class WordsTest {
    @Test
    void oneTakesTheSingular() {
        assertEquals("1 unit", Words.count(1, "unit"));
        assertEquals("0 units", Words.count(0, "unit"));
        assertEquals("2 shard tasks", Words.count(2, "shard task"));
    }

    @Test
    void planAndSummaryLinesOfOneOfEach() {
        PlanFigures one = new PlanFigures(1, 1, 0, 0, 1, 1, 1, 3, 3, 3, 0);
        assertEquals("plan: 1 unit in 1 partition; tiles 1 (per task max 1, mean 1.0); rows read 3 = 1.00 x input"
                + " (per task max 3); rows merged 0", one.describe());
        PlanFigures inPlace = new PlanFigures(3, 1, 2, 1, 3, 2, 1.5, 6, 9, 9, 0);
        assertEquals("plan: 3 units: 2 computed in place by 1 shard task, 1 in 1 partition; tiles 3 (per task max 2,"
                + " mean 1.5); rows read 9 = 1.00 x input (per task max 6); rows merged 0", inPlace.describe());
        assertEquals("plan: 4 units, all computed in place by 2 shard tasks; tiles 4 (per task max 2, mean 2.0); rows"
                + " read 6 = 1.00 x input (per task max 3); rows merged 0",
                new PlanFigures(4, 0, 4, 2, 4, 2, 2.0, 3, 6, 6, 0).describe());
        assertEquals("plan: 1 unit, computed in place by 1 shard task; tiles 1 (per task max 1, mean 1.0); rows read 3"
                + " = 1.00 x input (per task max 3); rows merged 0",
                new PlanFigures(1, 0, 1, 1, 1, 1, 1.0, 3, 3, 3, 0).describe());
        assertEquals("done: 1 row x 1 head, 1 tile, 0.000 useful GFLOP in 1.00 s = 0.00 GFLOP/s, 1 unit in 1 task -> o",
                new RunSummary(1, 1, 1, 0, 1, 1, 1, "o").describe());
        // Small figures keep three significant digits rather than print as 0.
        assertEquals("done: 600 rows x 4 heads, 72 tiles, 0.004 useful GFLOP in 2.42 s = 0.00169 GFLOP/s, 4 units in"
                + " 2 tasks -> o", new RunSummary(600, 4, 72, 0.0041, 2.42, 2, 4, "o").describe());
        assertEquals("12.35", Words.figure(12.345678, 2));
        assertEquals("-0.000123", Words.figure(-0.000123456, 2));
        assertEquals("0.00", Words.figure(0, 2));
        assertEquals("NaN", Words.figure(Double.NaN, 2));
        // A table's figures keep three significant digits where the decimals hold fewer.
        assertEquals("34.29", Words.digits(34.2857, 2));
        assertEquals("107.2", Words.digits(107.2, 1));
        assertEquals("0.0147", Words.digits(0.014687, 2));
        assertEquals("0.271", Words.digits(0.27131, 1));
        assertEquals("1.52", Words.digits(1.524, 2));
        assertEquals("0.00", Words.digits(0, 2));
        assertEquals("0.100", Words.digits(0.1, 2));
        assertEquals("0.0500", Words.digits(0.05, 2));
        assertEquals("1.000", Words.digits(0.9996, 2));
    }
}
