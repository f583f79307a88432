package org.sparseattention.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jobs/lib/build.bash}, which every launcher sources, with a stand-in {@code mvn} that logs
 * its calls: one build at a time, an unfinished build redone, and no jar of an earlier version left
 * beside Spark's own.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BuildScriptTest {
    @TempDir
    Path root;
    private Path calls;

    @BeforeEach
    void project() throws IOException {
        Files.createDirectories(root.resolve("src/main"));
        Files.writeString(root.resolve("pom.xml"), "<project/>");
        Files.createDirectories(root.resolve("bin"));
        calls = root.resolve("mvn-calls.log");
        // Builds by writing the jar and the classpath (after $MVN_SLEEP seconds), as package does.
        Path mvn = root.resolve("bin/mvn");
        Files.writeString(mvn, "#!/bin/sh\necho build >> '" + calls + "'\nsleep \"${MVN_SLEEP:-0}\"\n"
                + "mkdir -p target/spark-home/jars\nprintf '/m2/a-2.jar' > target/classpath.txt\n"
                + "touch target/app.jar target/spark-home/jars/a-2.jar\nexit \"${MVN_STATUS:-0}\"\n");
        Files.setPosixFilePermissions(mvn, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    /** Starts {@code ensure_built} on the stand-in project. */
    private Process ensureBuilt(String... environment) throws IOException {
        String script = "set -euo pipefail; . '" + Path.of("jobs/lib/build.bash").toAbsolutePath() + "'; ensure_built '"
                + root + "' building '" + root.resolve("target/app.jar") + "'; echo ready";
        ProcessBuilder builder = new ProcessBuilder("bash", "-c", script).redirectErrorStream(true);
        builder.environment().put("PATH", root.resolve("bin") + ":" + System.getenv("PATH"));
        for (int i = 0; i < environment.length; i += 2) {
            builder.environment().put(environment[i], environment[i + 1]);
        }
        return builder.start();
    }

    private static String finish(Process process) throws Exception {
        String output = new String(process.getInputStream().readAllBytes());
        assertTrue(process.waitFor(30, TimeUnit.SECONDS), output);
        return output + "(exit " + process.exitValue() + ")";
    }

    private int builds() throws IOException {
        return Files.exists(calls) ? Files.readAllLines(calls).size() : 0;
    }

    @Test
    void twoCommandsAtOnceBuildOnce() throws Exception {
        Process first = ensureBuilt("MVN_SLEEP", "2");
        Thread.sleep(500);
        Process second = ensureBuilt();
        String firstOutput = finish(first);
        String secondOutput = finish(second);
        assertTrue(firstOutput.endsWith("ready\n(exit 0)"), firstOutput);
        assertTrue(secondOutput.contains("waiting for another command's build"), secondOutput);
        assertTrue(secondOutput.endsWith("ready\n(exit 0)"), secondOutput);
        assertEquals(1, builds(), "the second found the first's build done");
        assertTrue(finish(ensureBuilt()).endsWith("ready\n(exit 0)"));
        assertEquals(1, builds(), "up to date: no build");
    }

    @Test
    void aBuildStoppedOrFailedIsRedoneByTheNextCommand() throws Exception {
        Process stopped = ensureBuilt("MVN_SLEEP", "5");
        // Killed once Maven has started (its jar not yet written): the jar of a build before stays.
        for (int i = 0; i < 100 && builds() == 0; i++) {
            Thread.sleep(50);
        }
        Files.createDirectories(root.resolve("target"));
        Files.writeString(root.resolve("target/app.jar"), "a build's half-written jar, newer than the sources");
        new ProcessBuilder("kill", "-TERM", Long.toString(stopped.pid())).start().waitFor();
        String output = finish(stopped);
        assertTrue(output.endsWith("(exit 143)"), output);
        assertTrue(Files.exists(root.resolve("target/.build-incomplete")));
        assertTrue(finish(ensureBuilt()).endsWith("ready\n(exit 0)"));
        assertEquals(2, builds(), "the stopped build is redone although its jar is newer than the sources");
        assertFalse(Files.exists(root.resolve("target/.build-incomplete")));

        Files.writeString(root.resolve("src/main/Changed.java"), "class Changed {}");
        Files.setLastModifiedTime(root.resolve("src/main/Changed.java"),
                java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 5000));
        String failed = finish(ensureBuilt("MVN_STATUS", "1"));
        assertTrue(failed.contains("the build failed") && failed.endsWith("(exit 1)"), failed);
        assertTrue(finish(ensureBuilt()).endsWith("ready\n(exit 0)"));
        assertEquals(4, builds(), "the failed build is redone");
    }

    /** A machine of another platform than the pom's native library, or without flock, is named at once. */
    @Test
    void anotherPlatformOrAMissingToolIsNamedBeforeAnyBuild() throws Exception {
        Files.writeString(root.resolve("pom.xml"), "<project><properties>\n"
                + "    <javacpp.platform>linux-x86_64</javacpp.platform>\n</properties></project>");
        Path uname = root.resolve("bin/uname");
        Files.writeString(uname, "#!/bin/sh\ncase \"$1\" in -s) echo Darwin ;; -m) echo arm64 ;; esac\n");
        Files.setPosixFilePermissions(uname, PosixFilePermissions.fromString("rwxr-xr-x"));
        String script = "set -euo pipefail; . '" + Path.of("jobs/lib/build.bash").toAbsolutePath() + "'; check_platform '"
                + root + "'; echo checked";
        ProcessBuilder builder = new ProcessBuilder("bash", "-c", script).redirectErrorStream(true);
        builder.environment().put("PATH", root.resolve("bin") + ":" + System.getenv("PATH"));
        String other = finish(builder.start());
        assertEquals("error: pom.xml's javacpp.platform is linux-x86_64 (ND4J's native library), but this machine is"
                + " macosx-arm64: set javacpp.platform in pom.xml to a platform ND4J builds for that matches it\n"
                + "(exit 1)", other);
        Files.delete(uname);
        String here = finish(builder.start());
        assertTrue(here.endsWith("checked\n(exit 0)") || !System.getProperty("os.arch").equals("amd64"), here);
        // A PATH with bash, sed and sha1sum but no flock.
        Path bare = Files.createDirectories(root.resolve("bare"));
        for (String tool : new String[] {"sed", "sha1sum", "uname"}) {
            Path found = Path.of("/usr/bin", tool);
            Files.createSymbolicLink(bare.resolve(tool), Files.exists(found) ? found : Path.of("/bin", tool));
        }
        ProcessBuilder noFlock = new ProcessBuilder(Path.of("/bin/bash").toString(), "-c", script)
                .redirectErrorStream(true);
        noFlock.environment().put("PATH", bare.toString());
        String missing = finish(noFlock.start());
        assertTrue(missing.startsWith("error: bash needs flock (flock: util-linux; sha1sum: GNU coreutils), which is"
                + " not on PATH") && missing.endsWith("(exit 1)"), missing);
    }

    @Test
    void jarsOfVersionsThePomNoLongerNamesAreRemovedFromSparkHome() throws Exception {
        Path jars = Files.createDirectories(root.resolve("target/spark-home/jars"));
        Files.writeString(jars.resolve("a-1.jar"), "the version before");
        assertTrue(finish(ensureBuilt()).endsWith("ready\n(exit 0)"));
        try (var files = Files.list(jars)) {
            assertEquals(List.of("a-2.jar"), files.map(f -> f.getFileName().toString()).toList());
        }
    }
}
