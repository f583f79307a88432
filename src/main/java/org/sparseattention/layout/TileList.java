package org.sparseattention.layout;

import java.util.Arrays;

/** A reusable list of key blocks with a full/partial flag each, kept sorted by {@link #normalize}. */
public final class TileList {
    private int[] codes = new int[16];
    private int size;

    /** Appends key block {@code keyBlock}; {@code full} when every pair in the tile is allowed. */
    public void add(int keyBlock, boolean full) {
        if (size == codes.length) {
            codes = Arrays.copyOf(codes, size * 2);
        }
        codes[size++] = keyBlock * 2 + (full ? 1 : 0);
    }

    public void clear() {
        size = 0;
    }

    public int size() {
        return size;
    }

    public int keyBlock(int index) {
        return codes[index] >> 1;
    }

    public boolean isFull(int index) {
        return (codes[index] & 1) != 0;
    }

    /** Replaces entry {@code index} (below the size) with key block {@code keyBlock}. */
    void set(int index, int keyBlock, boolean full) {
        codes[index] = keyBlock * 2 + (full ? 1 : 0);
    }

    /** Keeps the first {@code size} entries. */
    void truncate(int size) {
        this.size = size;
    }

    /** Sorts by key block and merges duplicates; a tile is full when any copy of it is. */
    void normalize() {
        Arrays.sort(codes, 0, size);
        int kept = 0;
        for (int i = 0; i < size; i++) {
            if (kept > 0 && codes[kept - 1] >> 1 == codes[i] >> 1) {
                codes[kept - 1] |= codes[i] & 1;
            } else {
                codes[kept++] = codes[i];
            }
        }
        size = kept;
    }
}
