package org.sparseattention.layout;

import java.util.Arrays;

/**
 * Figures of a layout, per head: tiles computed, full tiles (no mask) and allowed pairs; and the
 * tiles computed in each frame.
 *
 * <p>Useful work is {@code 4 * D * allowedPairs} floating-point operations (README.md, "What is computed").
 */
public record LayoutStats(int seqLen, int blockSize, long[] tiles, long[] fullTiles, long[] allowedPairs,
        long[] frameTiles) {

    public LayoutStats {
        tiles = tiles.clone();
        fullTiles = fullTiles.clone();
        allowedPairs = allowedPairs.clone();
        frameTiles = frameTiles.clone();
    }

    /** Returns the frames with at least one tile: a later frame may have nothing left to compute. */
    public int framesWithTiles() {
        return (int) Arrays.stream(frameTiles).filter(t -> t > 0).count();
    }

    public long totalTiles() {
        return Arrays.stream(tiles).sum();
    }

    public long totalAllowedPairs() {
        return Arrays.stream(allowedPairs).sum();
    }

    /** Returns the useful floating-point operations of one batch item with head dimension {@code headDim}. */
    public double usefulFlops(int headDim) {
        return 4.0 * headDim * totalAllowedPairs();
    }

    /** Returns the fraction of the causal pairs {@code L(L+1)/2} per head that are allowed. */
    public double density() {
        double causal = (double) seqLen * (seqLen + 1) / 2.0 * tiles.length;
        return totalAllowedPairs() / causal;
    }
}
