package org.sparseattention.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SoftmaxTest {

    @Test
    void expIsAccurateOverItsDomainAndVectorEqualsScalar() {
        // The domain is a score less its maximum, at most 0; the values above it check the clamp.
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
            if (values[i] > -87f && values[i] <= 0f) {
                double exact = Math.exp(values[i]);
                worst = Math.max(worst, Math.abs(vector[i] - exact) / exact);
            } else if (values[i] > 0f) {
                assertEquals(1f, vector[i], "taken as 0 above the domain: " + values[i]);
            }
        }
        assertTrue(worst < 3e-7, "relative error " + worst);
        assertEquals(1f, Softmax.exp(0f));
        assertEquals(1f, Softmax.exp(-0f));
        // From 127.5 ln 2 the scale 2^n would be infinite: no NaN from a finite input.
        for (float x : new float[] {88.38f, 88.72283f, 100f, Float.MAX_VALUE, Float.POSITIVE_INFINITY}) {
            assertEquals(1f, Softmax.exp(x), "at " + x);
        }
        assertEquals(0f, Softmax.exp(Float.NEGATIVE_INFINITY));
        assertEquals(0f, Softmax.exp(-88f));
        assertTrue(Float.isNaN(Softmax.exp(Float.NaN)));
        float[] masked = {Float.NEGATIVE_INFINITY, 0f, Float.NEGATIVE_INFINITY};
        assertEquals(1.0, Softmax.expShifted(masked, 0, 3, 0f), 0);
    }

    @Test
    void columnsUseTheSameExponentialAndGiveEachColumnItsLogSumExp() {
        // 20 and 70 query columns end in part of a vector; 64 and 70 take the maxima four vectors at a time.
        for (int queries : new int[] {20, 64, 70}) {
            int ld = TileMath.padded(queries);
            int keys = 37;
            float[] s = new float[keys * ld];
            for (int i = 0; i < s.length; i++) {
                s[i] = (float) Math.sin(i * 0.61) * 30f;
            }
            for (int c = 0; c < keys; c++) {
                s[c * ld + 3] = Float.NEGATIVE_INFINITY;   // column 3: no allowed key
                if (c != 5) {
                    s[c * ld + 4] = Float.NEGATIVE_INFINITY;   // column 4: one allowed key
                }
            }
            s[7 * ld + 9] = Float.NaN;   // column 9: a NaN score
            s[11 * ld + 10] = Float.POSITIVE_INFINITY;   // column 10: an infinite score
            int last = queries - 1;
            s[30 * ld + last] = 80f;   // the last column: one score far above the rest
            float[] before = s.clone();
            float[] lse = new float[ld];
            float[] inverse = new float[ld];
            Softmax.columns(s, keys, ld, lse, inverse);
            for (int r = 0; r < ld; r++) {
                float max = Float.NEGATIVE_INFINITY;
                for (int c = 0; c < keys; c++) {
                    max = Math.max(max, before[c * ld + r]);
                }
                float shift = max == Float.NEGATIVE_INFINITY ? 0f : max;
                double sum = 0;
                for (int c = 0; c < keys; c++) {
                    float e = Softmax.exp(before[c * ld + r] - shift);
                    assertEquals(Float.floatToIntBits(e), Float.floatToIntBits(s[c * ld + r]),
                            queries + " queries: column " + r + ", key " + c);
                    sum += Math.exp((double) before[c * ld + r] - shift);
                }
                if (r == 3) {
                    assertEquals(Float.NEGATIVE_INFINITY, lse[r]);
                    assertEquals(0f, inverse[r]);
                } else if (r == 9 || r == 10) {
                    assertTrue(Float.isNaN(lse[r]), queries + " queries: column " + r + " " + lse[r]);
                } else {
                    assertEquals(max + Math.log(sum), lse[r], 1e-5 * Math.max(1, Math.abs(lse[r])),
                            queries + " queries: column " + r);
                }
            }
            assertEquals(before[5 * ld + 4], lse[4], 1e-6);
            assertEquals(80f, lse[last], 1e-5);
        }
    }
}
