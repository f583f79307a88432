package org.sparseattention.job;

import java.util.Locale;

/** What a finished run did, for the console. */
public record RunSummary(long rows, int heads, long tiles, double usefulGflop, double seconds, int tasks,
        int units, String out) {

    public double gflops() {
        return seconds > 0 ? usefulGflop / seconds : 0;
    }

    public String describe() {
        return String.format(Locale.ROOT, "done: %d rows x %d heads, %d tiles, %.3f useful GFLOP in %.2f s = %.2f GFLOP/s,"
                + " %d units in %d tasks -> %s", rows, heads, tiles, usefulGflop, seconds, gflops(), units,
                tasks, out);
    }
}
