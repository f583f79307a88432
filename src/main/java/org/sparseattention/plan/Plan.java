package org.sparseattention.plan;

import java.io.Serializable;
import java.util.List;

/** A planned run: its units, their grouping into partitions, and the plan's own figures. */
public record Plan(JobSettings settings, InputShape shape, List<WorkUnit> units, List<List<WorkUnit>> partitions,
        PlanFigures figures) implements Serializable {

    public Plan {
        units = List.copyOf(units);
        partitions = partitions.stream().map(List::copyOf).toList();
    }
}
