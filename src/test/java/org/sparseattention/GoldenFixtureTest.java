package org.sparseattention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.sparseattention.TestArrays.assertClose;
import static org.sparseattention.TestArrays.widen;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.sparseattention.kernel.AttentionOutput;
import org.sparseattention.kernel.DenseAttention;
import org.sparseattention.kernel.ReferenceAttention;
import org.sparseattention.kernel.SparseForward;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.Pattern;
import org.sparseattention.layout.Patterns;

/** Outputs of data/make_golden.py, an independent NumPy implementation, against the kernel. */
class GoldenFixtureTest {
    private static final Path GOLDEN = Path.of("data", "golden");

    static Stream<String> cases() throws IOException {
        try (Stream<Path> folders = Files.list(GOLDEN)) {
            return folders.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList().stream();
        }
    }

    /** A fixture deleted, or a case added to the script and never made, would shrink the cases unseen. */
    @Test
    void everyCaseOfTheScriptHasItsFixture() throws IOException {
        java.util.regex.Matcher names = java.util.regex.Pattern.compile("(?m)^\\s*\\(\"(\\w+)\",")
                .matcher(Files.readString(Path.of("data", "make_golden.py")));
        List<String> scripted = new ArrayList<>();
        while (names.find()) {
            scripted.add(names.group(1));
        }
        assertEquals(scripted.stream().sorted().toList(), cases().toList(), "data/make_golden.py's cases");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void kernelMatchesNumPyReference(String name) throws IOException {
        Path folder = GOLDEN.resolve(name);
        Properties p = new Properties();
        try (Reader reader = Files.newBufferedReader(folder.resolve("params.properties"))) {
            p.load(reader);
        }
        int seqLen = Integer.parseInt(p.getProperty("seq_len"));
        int blockSize = Integer.parseInt(p.getProperty("block_size"));
        int heads = Integer.parseInt(p.getProperty("heads"));
        int headDim = Integer.parseInt(p.getProperty("head_dim"));
        Pattern pattern = Patterns.parse(p.getProperty("mode"), Integer.parseInt(p.getProperty("local_attn_ctx")),
                blockSize, Integer.parseInt(p.getProperty("num_verts")), Integer.parseInt(p.getProperty("vertsize")));
        float[] q = TestArrays.readNpy(folder.resolve("q.npy"));
        float[] k = TestArrays.readNpy(folder.resolve("k.npy"));
        float[] v = TestArrays.readNpy(folder.resolve("v.npy"));
        float[] expected = TestArrays.readNpy(folder.resolve("out.npy"));
        float[] expectedLse = TestArrays.readNpy(folder.resolve("lse.npy"));
        int batch = q.length / (seqLen * heads * headDim);
        assertEquals(2, batch);

        BlockLayout layout = BlockLayout.of(pattern, seqLen, blockSize, heads);
        AttentionOutput actual = SparseForward.forward(q, k, v, batch, layout, headDim,
                (float) (1 / Math.sqrt(headDim)), SparseForward.DEFAULT_MAX_KEY_BLOCKS);
        assertClose(widen(expected), actual.output(), 1e-5, name + " output");
        assertClose(widen(expectedLse), actual.logSumExp(), 1e-5, name + " log-sum-exp");
        // The dense path and the Java float64 reference, which the other tests trust, ask the
        // pattern itself rather than the block layout: their token rules are pinned here too.
        float scale = (float) (1 / Math.sqrt(headDim));
        AttentionOutput dense = DenseAttention.compute(q, k, v, batch, seqLen, heads, headDim, pattern, scale);
        assertClose(widen(expected), dense.output(), 1e-5, name + " dense output");
        assertClose(widen(expectedLse), dense.logSumExp(), 1e-5, name + " dense log-sum-exp");
        ReferenceAttention.Result reference = ReferenceAttention.compute(q, k, v, batch, seqLen, heads, headDim, pattern,
                1 / Math.sqrt(headDim));
        assertClose(widen(expected), TestArrays.narrow(reference.output()), 1e-5, name + " float64 reference");
        assertClose(widen(expectedLse), TestArrays.narrow(reference.logSumExp()), 1e-5,
                name + " float64 reference log-sum-exp");
    }
}
