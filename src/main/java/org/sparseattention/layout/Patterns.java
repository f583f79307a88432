package org.sparseattention.layout;

import java.util.ArrayList;
import java.util.List;
import org.sparseattention.errors.InvalidInputException;

/** Parses the mode strings of the command line and the API into patterns. */
public final class Patterns {
    /** How an error about a mode starts, before the mode in quotes: {@code mode (--mode) 'local+': ...}. */
    public static final String PREFIX = "mode (--mode) ";
    /** How an unknown name's error ends: how names are joined into a mode. */
    public static final String JOINERS = ", joined by + (union) or , (per head)";

    private Patterns() {
    }

    /**
     * Returns the pattern named by {@code mode}: one of {@code all}, {@code local},
     * {@code strided}, {@code fixed}; a union with {@code +} ({@code local+strided}); or a
     * per-head list with {@code ,} ({@code local,strided}: head h uses item h mod 2).
     *
     * @param localAttnCtx the window of {@code local} and {@code fixed}, the stride of {@code strided}
     * @param blockSize the block size, which {@code fixed} depends on
     */
    public static Pattern parse(String mode, int localAttnCtx, int blockSize, int numVerts, int vertsize) {
        if (mode == null || mode.isBlank()) {
            throw new InvalidInputException(PREFIX + "'" + mode + "': names no pattern, expected all, local, strided or"
                    + " fixed");
        }
        String[] items = mode.split(",", -1);
        List<Pattern> perHead = new ArrayList<>();
        for (String item : items) {
            String[] names = item.split("\\+", -1);
            List<Pattern> parts = new ArrayList<>();
            for (String name : names) {
                parts.add(elementary(name.trim(), mode, localAttnCtx, blockSize, numVerts, vertsize));
            }
            perHead.add(parts.size() == 1 ? parts.get(0) : new UnionPattern(parts));
        }
        return perHead.size() == 1 ? perHead.get(0) : new PerHeadPattern(perHead);
    }

    /** The elementary patterns' names, as {@link #parse} takes them. */
    public static final java.util.Set<String> NAMES = java.util.Set.of("all", "local", "strided", "fixed");

    /**
     * Returns the names in {@code mode} as {@link #parse} reads them (split at {@code +} and
     * {@code ,}, spaces left out; an empty part as an empty name), without checking them; none
     * for null.
     */
    public static List<String> names(String mode) {
        if (mode == null) {
            return List.of();
        }
        return java.util.Arrays.stream(mode.split("[+,]", -1)).map(String::trim).toList();
    }

    /**
     * Returns {@code mode}, which {@link #parse} accepts, as the results record it: without the
     * spaces around its names ({@code "local, strided"} is {@code "local,strided"}).
     */
    public static String canonical(String mode) {
        List<String> items = new ArrayList<>();
        for (String item : mode.split(",", -1)) {
            List<String> names = new ArrayList<>();
            for (String name : item.split("\\+", -1)) {
                names.add(name.trim());
            }
            items.add(String.join("+", names));
        }
        return String.join(",", items);
    }

    private static Pattern elementary(String name, String mode, int context, int blockSize,
            int numVerts, int vertsize) {
        return switch (name) {
            case "" -> throw new InvalidInputException(PREFIX + "'" + mode + "': a part is empty, expected names (all,"
                    + " local, strided, fixed) on both sides of each + and ,");
            case "all" -> Pattern.all();
            case "local" -> Pattern.local(context);
            case "strided" -> Pattern.strided(context);
            case "fixed" -> Pattern.fixed(context, blockSize, numVerts, vertsize);
            default -> throw new InvalidInputException(PREFIX + "'" + mode + "': unknown pattern '" + name
                    + "', expected all, local, strided or fixed" + JOINERS);
        };
    }
}
