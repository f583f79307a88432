package org.sparseattention.cli;

import org.sparseattention.errors.Words;
import org.sparseattention.layout.Patterns;
import org.sparseattention.plan.JobSettings;
import picocli.CommandLine.Option;

/** The pattern options shared by {@code run}, {@code layout} and {@code verify}. */
final class PatternOptions {
    @Option(names = "--heads", required = true, description = "Number of heads H.")
    int heads;

    @Option(names = "--mode", required = true,
            description = "all, local, strided, fixed; a union with + (local+strided) or a per-head list with ,"
                    + " (local,strided: head h uses item h mod 2).")
    String mode;

    @Option(names = "--local-ctx", defaultValue = "0",
            description = "Window of local and fixed, stride of strided (the paper's local_attn_ctx); local with 0 or less,"
                    + " or with at least the sequence length, attends every earlier key, as all does; strided and fixed"
                    + " need one of at least 1 (fixed: a multiple of --block-size). Default: ${DEFAULT-VALUE}.")
    int localCtx;

    @Option(names = "--block-size", defaultValue = "64", description = "Block size. Default: ${DEFAULT-VALUE}.")
    int blockSize;

    @Option(names = "--num-verts", defaultValue = "4", description = "fixed: distinct summary column offsets; head h reads offset h mod num_verts, and --heads must be a multiple of it. Default: ${DEFAULT-VALUE}.")
    int numVerts;

    @Option(names = "--vertsize", defaultValue = "1", description = "fixed: blocks per summary slice; the blocks of a window (--local-ctx / --block-size) must be a multiple of it, and at least --num-verts x --vertsize. Default: ${DEFAULT-VALUE}.")
    int vertsize;

    /**
     * Refuses a size option below 1, naming it, whatever the mode, as run's settings do with their
     * own check.
     */
    void check() {
        JobSettings.atLeastOne("--heads", heads);
        JobSettings.atLeastOne("--block-size", blockSize);
        JobSettings.atLeastOne("--num-verts", numVerts);
        JobSettings.atLeastOne("--vertsize", vertsize);
    }

    /**
     * Prints a note when {@code local} will attend every earlier position (with {@code --local-ctx}
     * 0 or less it allows the pairs of {@code all}, dense and quadratic in the length), and when a
     * per-head list does not fit {@code --heads}: items past the last head go unused, and a count
     * that does not divide the heads gives the items unequal shares.
     */
    void notes() {
        noteDenseLocal(mode, localCtx);
        String[] items = mode.split(",", -1);
        if (items.length < 2 || heads % items.length == 0) {
            return;
        }
        // Each item with the heads that take it (head h takes item h mod n), the first few named.
        java.util.List<String> shares = new java.util.ArrayList<>();
        for (int i = 0; i < items.length; i++) {
            java.util.List<String> taken = new java.util.ArrayList<>();
            int count = 0;
            for (int h = i; h < heads; h += items.length) {
                if (++count <= 4) {
                    taken.add(Integer.toString(h));
                }
            }
            String which = count == 0 ? "no head" : (count == 1 ? "head " : "heads ") + String.join(", ", taken)
                    + (count > 4 ? ", ... (" + count + " heads)" : "");
            shares.add("'" + Patterns.canonical(items[i]) + "' " + which);
        }
        System.err.println("note: --mode lists " + items.length + " per-head patterns for " + Words.count(heads, "head")
                + " (head h takes item h mod " + items.length + "): " + String.join("; ", shares));
    }

    /** The note of {@link #notes()} on {@code local} for {@code mode} (patterns joined by {@code +} or {@code ,}) and {@code localCtx}. */
    static void noteDenseLocal(String mode, int localCtx) {
        java.util.List<String> names = Patterns.names(mode);
        // A mode that does not parse gets its error, not this note first.
        if (Patterns.NAMES.containsAll(names) && names.contains("local") && localCtx <= 0) {
            System.err.println("note: --local-ctx " + localCtx + ": 'local' attends every earlier position, as 'all'"
                    + " does (dense, quadratic in the length)");
        }
    }
}
