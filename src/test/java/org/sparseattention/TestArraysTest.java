package org.sparseattention;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.sparseattention.TestArrays.assertClose;

import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

/** The comparison every numeric test relies on holds each element to its own size. */
class TestArraysTest {
    @Test
    void smallElementsAreNotExcusedByALargeOne() {
        double[] expected = new double[100];
        float[] actual = new float[100];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = 0.01 * (i % 7 + 1);
            actual[i] = (float) expected[i];
        }
        expected[0] = 1000;
        actual[0] = 1000;
        actual[50] = (float) (expected[50] * 1.001);
        // 1e-5 of the largest magnitude would be 0.01, far above this 1e-5-sized error.
        assertThrows(AssertionFailedError.class, () -> assertClose(expected, actual, 1e-5, "small"));
        assertClose(expected, actual, 2e-3, "small, looser");
    }

    @Test
    void elementsNearZeroAreHeldToTheTypicalSize() {
        double[] expected = {1, -1, 1, -1, 1e-9};
        float[] close = {1, -1, 1, -1, 1e-7f};
        assertClose(expected, close, 1e-6, "near zero");
        float[] far = {1, -1, 1, -1, 1e-4f};
        assertThrows(AssertionFailedError.class, () -> assertClose(expected, far, 1e-5, "near zero, far"));
        // Mostly zeros: the typical size is that of the values that are not.
        double[] sparse = {0, 0, 0, 1};
        assertClose(sparse, new float[] {1e-9f, 0, 0, 1}, 1e-6, "mostly zero");
        assertThrows(AssertionFailedError.class, () -> assertClose(sparse, new float[] {1e-3f, 0, 0, 1}, 1e-5,
                "mostly zero, far"));
    }

    @Test
    void nonFiniteValuesMustMatch() {
        assertClose(new double[] {Double.NEGATIVE_INFINITY, 1}, new float[] {Float.NEGATIVE_INFINITY, 1}, 1e-6, "inf");
        assertThrows(AssertionFailedError.class,
                () -> assertClose(new double[] {1, 1}, new float[] {Float.NaN, 1}, 1e-6, "nan"));
        assertThrows(AssertionFailedError.class,
                () -> assertClose(new double[] {Double.NEGATIVE_INFINITY, 1}, new float[] {-1e30f, 1}, 1e-6, "inf"));
    }
}
