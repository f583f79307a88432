package org.sparseattention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Dependencies point one way: the lower packages never import the engine or the file system. */
class ArchitectureTest {
    private static final Path MAIN = Path.of("src", "main", "java", "org", "sparseattention");

    private static List<String> offenders(String pkg, List<String> forbidden) throws IOException {
        List<String> found = new ArrayList<>();
        try (Stream<Path> files = Files.walk(MAIN.resolve(pkg))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                for (String line : Files.readAllLines(file)) {
                    for (String prefix : forbidden) {
                        if (line.startsWith("import " + prefix) || line.startsWith("import static " + prefix)) {
                            found.add(file + ": " + line);
                        }
                    }
                }
            }
        }
        return found;
    }

    @Test
    void layoutIsPlainJava() throws IOException {
        assertEquals(List.of(), offenders("layout",
                List.of("org.apache.", "org.nd4j.", "org.bytedeco.", "scala.", "org.sparseattention.kernel",
                        "org.sparseattention.io", "org.sparseattention.plan", "org.sparseattention.job",
                        "org.sparseattention.cli")));
    }

    @Test
    void kernelKnowsNeitherSparkNorHadoop() throws IOException {
        assertEquals(List.of(), offenders("kernel",
                List.of("org.apache.spark", "org.apache.hadoop", "scala.", "org.sparseattention.io",
                        "org.sparseattention.plan", "org.sparseattention.job", "org.sparseattention.cli")));
    }

    @Test
    void planKnowsNeitherSparkNorHadoop() throws IOException {
        assertTrue(Files.isDirectory(MAIN.resolve("plan")), "run from the repository root");
        assertEquals(List.of(), offenders("plan", List.of("org.apache.spark", "org.apache.hadoop", "scala.",
                "org.sparseattention.job", "org.sparseattention.cli")));
    }

    @Test
    void onlyTheJobImportsSpark() throws IOException {
        for (String pkg : List.of("layout", "kernel", "io", "errors")) {
            assertEquals(List.of(), offenders(pkg, List.of("org.apache.spark")), pkg);
        }
    }

    /**
     * Figures and file names are formatted in the root locale: scripts parse the console's figures,
     * and every executor must name a shard's files alike, whatever its default locale.
     */
    @Test
    void everyFormatNamesTheRootLocale() throws IOException {
        java.util.regex.Pattern unnamed = java.util.regex.Pattern.compile(
                "(\\.format|\\.printf)\\((?!Locale\\.ROOT)|\\.formatted\\(|MessageFormat|NumberFormat(?!Exception)|DecimalFormat"
                        + "|to(Lower|Upper)Case\\(\\)");
        List<String> found = new ArrayList<>();
        try (Stream<Path> files = Files.walk(MAIN)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                for (String line : Files.readAllLines(file)) {
                    if (unnamed.matcher(line).find()) {
                        found.add(file + ": " + line.strip());
                    }
                }
            }
        }
        assertEquals(List.of(), found);
    }
}
