package org.sparseattention.layout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class FrameTest {

    @Test
    void residueFrameIsAPermutationWithContiguousClasses() {
        for (int seqLen : new int[] {1, 2, 7, 17, 100, 257}) {
            for (int stride : new int[] {1, 2, 3, 5, 16, 300}) {
                Frame frame = new Frame(seqLen, stride);
                boolean[] seen = new boolean[seqLen];
                int previousClass = -1;
                int previousPosition = -1;
                for (int row = 0; row < seqLen; row++) {
                    int t = frame.original(row);
                    assertTrue(t >= 0 && t < seqLen && !seen[t], "row " + row + " -> " + t);
                    seen[t] = true;
                    assertEquals(row, frame.position(t), "inverse at " + t);
                    int c = t % stride;
                    assertEquals(c, frame.classOf(row), "class of row " + row);
                    if (c == previousClass) {
                        assertEquals(previousPosition + stride, t, "class members in order");
                    } else {
                        assertTrue(c > previousClass, "classes in order");
                    }
                    previousClass = c;
                    previousPosition = t;
                }
            }
        }
    }

    @Test
    void originalBoundsAreTheExtremesOfEveryRowRange() {
        for (int seqLen : new int[] {1, 2, 7, 17, 100, 257}) {
            for (int stride : new int[] {1, 2, 3, 5, 16, 300}) {
                Frame frame = new Frame(seqLen, stride);
                for (int from = 0; from < seqLen; from++) {
                    int min = Integer.MAX_VALUE;
                    int max = Integer.MIN_VALUE;
                    for (int to = from + 1; to <= seqLen; to++) {
                        min = Math.min(min, frame.original(to - 1));
                        max = Math.max(max, frame.original(to - 1));
                        int[] bounds = frame.originalBounds(from, to);
                        assertEquals(min, bounds[0], "min of rows " + from + ".." + to + ", L=" + seqLen + ", stride " + stride);
                        assertEquals(max, bounds[1], "max of rows " + from + ".." + to + ", L=" + seqLen + ", stride " + stride);
                    }
                }
            }
        }
    }
}
