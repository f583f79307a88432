package org.sparseattention.kernel;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Where the kernel's time goes, phase by phase (thread-seconds summed over threads). Off unless
 * {@link #enable()} is called; then each query block and head adds a few clock reads.
 */
public final class KernelProfile {
    /**
     * The phases of one query block and head, in order. {@code PACK} is the copy of a call's key
     * and value rows into per-head arrays, {@code GATHER} the rest of getting rows in place
     * (listing key rows, their offsets, the queries' transpose); {@code MASK} includes finding the
     * bands.
     */
    public enum Phase { GATHER, PACK, SCORES_GEMM, MASK, SOFTMAX, OUTPUT_GEMM, SCATTER }

    private static volatile boolean enabled;
    private static final LongAdder[] NANOS = new LongAdder[Phase.values().length];

    static {
        for (int i = 0; i < NANOS.length; i++) {
            NANOS[i] = new LongAdder();
        }
    }

    private KernelProfile() {
    }

    public static void enable() {
        enabled = true;
    }

    /** Stops taking times (the ones taken so far stay until {@link #reset()}). */
    public static void disable() {
        enabled = false;
    }

    static boolean enabled() {
        return enabled;
    }

    static void add(Phase phase, long nanos) {
        NANOS[phase.ordinal()].add(nanos);
    }

    /** Returns the seconds spent per phase since the last reset. */
    public static Map<Phase, Double> seconds() {
        Map<Phase, Double> result = new LinkedHashMap<>();
        for (Phase phase : Phase.values()) {
            result.put(phase, NANOS[phase.ordinal()].sum() / 1e9);
        }
        return result;
    }

    public static void reset() {
        for (LongAdder adder : NANOS) {
            adder.reset();
        }
    }
}
