package org.sparseattention.plan;

import java.io.Serializable;
import java.util.List;

/**
 * A planned run: its units; the partitions of units whose output is shuffled to the shard tasks;
 * for each output shard (numbered across batch items), the units its task computes in place; and
 * the order in which shard tasks run (their partitions: most estimated work first, so that the
 * longest tasks do not start last); and the plan's own figures.
 */
public record Plan(JobSettings settings, InputShape shape, List<WorkUnit> units, List<List<WorkUnit>> partitions,
        List<List<WorkUnit>> inPlace, List<Integer> shardOrder, PlanFigures figures) implements Serializable {

    public Plan {
        units = List.copyOf(units);
        partitions = partitions.stream().map(List::copyOf).toList();
        inPlace = inPlace.stream().map(List::copyOf).toList();
        shardOrder = List.copyOf(shardOrder);
    }
}
