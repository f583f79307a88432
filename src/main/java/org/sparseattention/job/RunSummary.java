package org.sparseattention.job;

import java.util.Locale;
import org.sparseattention.errors.Words;

/** What a finished run did, for the console. */
public record RunSummary(long rows, int heads, long tiles, double usefulGflop, double seconds, int tasks,
        int units, String out) {

    public double gflops() {
        return seconds > 0 ? usefulGflop / seconds : 0;
    }

    public String describe() {
        return String.format(Locale.ROOT, "done: %s x %s, %s, %s useful GFLOP in %.2f s = %s GFLOP/s,"
                + " %s in %s -> %s", Words.count(rows, "row"), Words.count(heads, "head"), Words.count(tiles, "tile"),
                Words.figure(usefulGflop, 3), seconds, Words.figure(gflops(), 2), Words.count(units, "unit"),
                Words.count(tasks, "task"), out);
    }
}
