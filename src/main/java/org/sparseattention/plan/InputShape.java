package org.sparseattention.plan;

import java.io.Serializable;

/** The common shape {@code [B, L, E]} of q, k and v, with {@code E = heads * headDim}. */
public record InputShape(int batch, int seqLen, int features, int heads) implements Serializable {
    /** The longest sequence a run takes: positions and their doubles (residue order) stay ints. */
    public static final int MAX_SEQ_LEN = Integer.MAX_VALUE / 2;
    /** The most features a run takes. */
    public static final int MAX_FEATURES = 1 << 20;

    public int headDim() {
        return features / heads;
    }
}
