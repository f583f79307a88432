package org.sparseattention.errors;

/** Counted nouns for messages and console lines: "1 unit", "4 units". */
public final class Words {
    private Words() {
    }

    /** Returns {@code n} and {@code noun}, with an s unless {@code n} is 1 ({@code noun} takes a plain s). */
    public static String count(long n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }
}
