package org.sparseattention.plan;

import java.io.Serializable;

/** The common shape {@code [B, L, E]} of q, k and v, with {@code E = heads * headDim}. */
public record InputShape(int batch, int seqLen, int features, int heads) implements Serializable {

    public int headDim() {
        return features / heads;
    }
}
