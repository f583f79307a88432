package org.sparseattention.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SoftmaxTest {

    @Test
    void expIsAccurateOverTheWholeRangeAndVectorEqualsScalar() {
        int n = 200_003;
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = -100f + 190f * i / (n - 1);
        }
        float[] vector = values.clone();
        Softmax.expShifted(vector, 0, n, 0f);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            float scalar = Softmax.exp(values[i]);
            assertEquals(Float.floatToIntBits(scalar), Float.floatToIntBits(vector[i]), "lane and scalar at " + values[i]);
            double exact = Math.exp(values[i]);
            if (values[i] > -87f && values[i] < 88f) {
                worst = Math.max(worst, Math.abs(vector[i] - exact) / exact);
            }
        }
        assertTrue(worst < 3e-7, "relative error " + worst);
        assertEquals(0f, Softmax.exp(Float.NEGATIVE_INFINITY));
        assertEquals(0f, Softmax.exp(-88f));
        assertTrue(Float.isNaN(Softmax.exp(Float.NaN)));
        float[] masked = {Float.NEGATIVE_INFINITY, 0f, Float.NEGATIVE_INFINITY};
        assertEquals(1.0, Softmax.expShifted(masked, 0, 3, 0f), 0);
    }
}
