package org.sparseattention.layout;

import java.util.ArrayList;
import java.util.List;
import org.sparseattention.errors.InvalidInputException;

/** Per-head mix: head {@code h} uses {@code patterns.get(h mod patterns.size())}. */
public record PerHeadPattern(List<Pattern> patterns) implements Pattern {

    public PerHeadPattern {
        if (patterns == null || patterns.isEmpty()) {
            throw new InvalidInputException("a per-head list needs at least one pattern, got "
                    + (patterns == null ? "null" : "none"));
        }
        for (int i = 0; i < patterns.size(); i++) {
            Pattern pattern = patterns.get(i);
            if (pattern == null) {
                throw new InvalidInputException("a per-head list's patterns must not be null, got null for head " + i
                        + " (mod " + patterns.size() + ")");
            }
            if (pattern instanceof PerHeadPattern) {
                throw new InvalidInputException("per-head lists cannot nest: " + pattern.describe());
            }
        }
        patterns = List.copyOf(patterns);
    }

    /** Returns the pattern of {@code head}. */
    public Pattern patternOf(int head) {
        return patterns.get(head % patterns.size());
    }

    @Override
    public boolean allows(int head, int query, int key) {
        return patternOf(head).allows(head, query, key);
    }

    @Override
    public List<Elementary> elementsFor(int head) {
        return patternOf(head).elementsFor(head);
    }

    /** Checks every part's constraints, also those of parts no head uses when there are fewer heads than parts. */
    @Override
    public void checkHeads(int heads) {
        for (int i = 0; i < patterns.size(); i++) {
            for (Elementary e : patterns.get(i).elementsFor(i)) {
                try {
                    e.checkHeads(heads);
                } catch (InvalidInputException refused) {
                    // Which item, and whether a head uses it: every item is checked, used or not.
                    throw new InvalidInputException(refused.getMessage() + " (item " + i + " of the per-head list '"
                            + describe() + "', " + (i < heads ? "used by " + headsOf(i, heads) : (heads == 1
                            ? "which the one head does not use" : "which none of the " + heads + " heads uses")
                            + "; every item is checked") + ")", refused);
                }
            }
        }
    }

    /** Names the heads of {@code heads} that use item {@code item}: "head 1", "heads 0 and 2", "heads 0, 2, 4, ...". */
    private String headsOf(int item, int heads) {
        List<String> used = new ArrayList<>();
        for (long h = item; h < heads && used.size() < 4; h += patterns.size()) {
            used.add(Long.toString(h));
        }
        if (used.size() == 1) {
            return "head " + used.get(0);
        }
        if (used.size() == 4) {
            used.set(3, "...");
            return "heads " + String.join(", ", used);
        }
        return "heads " + String.join(", ", used.subList(0, used.size() - 1)) + " and " + used.get(used.size() - 1);
    }

    @Override
    public String describe() {
        List<String> names = new ArrayList<>();
        patterns.forEach(p -> names.add(p.describe()));
        return String.join(",", names);
    }
}
