package org.sparseattention.kernel;

import org.nd4j.linalg.factory.Nd4j;

/** Sets ND4J's thread pools in this JVM: OpenBLAS for matrix products, OpenMP for elementwise ops. */
public final class Threads {
    private static volatile int configured;

    private Threads() {
    }

    /** Uses {@code threads} threads for ND4J's BLAS and elementwise pools (both are needed). */
    public static synchronized void configure(int threads) {
        if (configured == threads) {
            return;
        }
        Nd4j.factory().blas().setMaxThreads(threads);
        Nd4j.getEnvironment().setMaxThreads(threads);
        Nd4j.getEnvironment().setMaxMasterThreads(threads);
        configured = threads;
    }
}
