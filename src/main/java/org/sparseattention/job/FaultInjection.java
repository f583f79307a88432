package org.sparseattention.job;

import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.sparseattention.plan.WorkUnit;

/**
 * Failures on demand, for the fault tests, set as the Spark local property or, failing that, the
 * Spark setting {@code spark.sparseattention.fault}: {@code halt:N} halts the executor JVM at unit N on the
 * task's first attempt; {@code fail:N} makes unit N fail on every attempt; {@code pause:MILLIS}
 * makes the first attempt of every task wait before its first unit, {@code delay:MILLIS} every
 * attempt; {@code oom:N} fills the heap at unit N until the JVM runs out of memory. Unset, it does
 * nothing.
 */
final class FaultInjection {
    static final String KEY = "spark.sparseattention.fault";

    private FaultInjection() {
    }

    static void beforeUnit(WorkUnit unit, boolean firstOfTask) {
        TaskContext task = TaskContext.get();
        if (task == null) {
            return;
        }
        String spec = task.getLocalProperty(KEY);
        if ((spec == null || spec.isEmpty()) && SparkEnv.get() != null) {
            spec = SparkEnv.get().conf().get(KEY, "");
        }
        if (spec == null || spec.isEmpty()) {
            return;
        }
        String[] parts = spec.split(":");
        if (parts.length != 2) {
            return;
        }
        long value = Long.parseLong(parts[1]);
        boolean firstAttempt = task.attemptNumber() == 0;
        switch (parts[0]) {
            case "halt" -> {
                if (firstAttempt && value == unit.index()) {
                    Runtime.getRuntime().halt(137);
                }
            }
            case "fail" -> {
                if (value == unit.index()) {
                    throw new IllegalStateException("injected failure (" + KEY + "=" + spec + ")");
                }
            }
            case "oom" -> {
                if (value == unit.index()) {
                    java.util.List<long[]> held = new java.util.ArrayList<>();
                    while (held.size() >= 0) {
                        held.add(new long[1 << 20]);
                    }
                }
            }
            case "pause", "delay" -> {
                if ((firstAttempt || parts[0].equals("delay")) && firstOfTask) {
                    try {
                        Thread.sleep(value);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }
            default -> {
            }
        }
    }
}
