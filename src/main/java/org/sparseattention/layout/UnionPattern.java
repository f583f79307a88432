package org.sparseattention.layout;

import java.util.ArrayList;
import java.util.List;
import org.sparseattention.errors.InvalidInputException;

/** Union inside one head: a pair is allowed when any part allows it. */
public record UnionPattern(List<Pattern> parts) implements Pattern {

    public UnionPattern {
        if (parts == null || parts.isEmpty()) {
            throw new InvalidInputException("a union needs at least one pattern, got " + (parts == null ? "null" : "none"));
        }
        for (int i = 0; i < parts.size(); i++) {
            Pattern part = parts.get(i);
            if (part == null) {
                throw new InvalidInputException("a union's parts must not be null, got null as part " + i);
            }
            if (part instanceof PerHeadPattern) {
                throw new InvalidInputException("a union cannot contain a per-head list: " + part.describe());
            }
        }
        parts = List.copyOf(parts);
    }

    @Override
    public boolean allows(int head, int query, int key) {
        for (Pattern part : parts) {
            if (part.allows(head, query, key)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public List<Elementary> elementsFor(int head) {
        List<Elementary> elements = new ArrayList<>();
        for (Pattern part : parts) {
            elements.addAll(part.elementsFor(head));
        }
        return elements;
    }

    @Override
    public String describe() {
        List<String> names = new ArrayList<>();
        parts.forEach(p -> names.add(p.describe()));
        return String.join("+", names);
    }
}
