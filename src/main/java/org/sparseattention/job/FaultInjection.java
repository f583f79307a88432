package org.sparseattention.job;

import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.sparseattention.plan.WorkUnit;

/**
 * Failures on demand, for the fault tests: with {@code spark.sparseattention.fault} set to
 * {@code halt:N} the executor JVM halts at unit N on the task's first attempt; {@code fail:N}
 * makes unit N fail on every attempt. Unset, it does nothing.
 */
final class FaultInjection {
    static final String KEY = "spark.sparseattention.fault";

    private FaultInjection() {
    }

    static void beforeUnit(WorkUnit unit) {
        SparkEnv env = SparkEnv.get();
        TaskContext task = TaskContext.get();
        if (env == null || task == null) {
            return;
        }
        String spec = env.conf().get(KEY, "");
        if (spec.isEmpty()) {
            return;
        }
        String[] parts = spec.split(":");
        if (parts.length != 2 || Integer.parseInt(parts[1]) != unit.index()) {
            return;
        }
        if (parts[0].equals("halt") && task.attemptNumber() == 0) {
            Runtime.getRuntime().halt(137);
        }
        if (parts[0].equals("fail")) {
            throw new IllegalStateException("injected failure (" + KEY + "=" + spec + ")");
        }
    }
}
