package org.sparseattention.errors;

import java.util.Locale;

/** Counted nouns and figures for messages and console lines: "1 unit", "4 units", "0.00412". */
public final class Words {
    private Words() {
    }

    /** Returns {@code n} and {@code noun}, with an s unless {@code n} is 1 ({@code noun} takes a plain s). */
    public static String count(long n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }

    /**
     * Returns {@code x} with {@code places} decimals, or, where that would print a value that is not
     * 0 as 0 ("0.00"), with three significant digits ("0.00412").
     */
    public static String figure(double x, int places) {
        String fixed = String.format(Locale.ROOT, "%." + places + "f", x);
        boolean shownAsZero = x != 0 && Double.isFinite(x) && fixed.matches("-?0(\\.0*)?");
        return shownAsZero ? new java.math.BigDecimal(x).round(new java.math.MathContext(3)).toPlainString() : fixed;
    }

    /**
     * Returns {@code x} with {@code places} decimals, or with three significant digits where those
     * decimals hold fewer ("0.0147", not "0.01"): figures of a table read against each other.
     */
    public static String digits(double x, int places) {
        String fixed = String.format(Locale.ROOT, "%." + places + "f", x);
        if (x == 0 || !Double.isFinite(x) || Math.abs(x) >= Math.pow(10, 2 - places)) {
            return fixed;
        }
        int decimals = Math.max(places, 2 - (int) Math.floor(Math.log10(Math.abs(x))));
        return new java.math.BigDecimal(x).setScale(decimals, java.math.RoundingMode.HALF_UP).toPlainString();
    }
}
