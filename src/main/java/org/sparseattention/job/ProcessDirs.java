package org.sparseattention.job;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.stream.Stream;

/**
 * Directories of one process under a shared parent ({@code /tmp}), named with a prefix, the
 * process id, '-' and a random part, so that a later process can delete those whose process
 * ended without deleting them (killed, or out of memory: such a JVM exits without its hooks).
 */
final class ProcessDirs {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ProcessDirs.class);

    private ProcessDirs() {
    }

    /** Creates this process's new directory under {@code parent}. */
    static Path create(Path parent, String prefix) throws IOException {
        return Files.createTempDirectory(parent, prefix + ProcessHandle.current().pid() + "-");
    }

    /**
     * Deletes the directories of {@code prefix} under {@code parent} of processes that no longer
     * run, with all they hold (links are deleted, never followed). A directory of a running
     * process, of a process id taken again since, or of another user, is left alone.
     */
    static void deleteLeftBehind(Path parent, String prefix) {
        List<Path> entries;
        try (Stream<Path> listed = Files.list(parent)) {
            entries = listed.filter(p -> p.getFileName().toString().startsWith(prefix)).toList();
        } catch (IOException | RuntimeException e) {
            LOG.debug("could not look for earlier directories " + prefix + "* in " + parent + ": " + e);
            return;
        }
        String me = System.getProperty("user.name");
        for (Path dir : entries) {
            // Each on its own: one that cannot be read (another user's) leaves the others to delete.
            try {
                String name = dir.getFileName().toString();
                int end = name.indexOf('-', prefix.length());
                String pid = end < 0 ? "" : name.substring(prefix.length(), end);
                // Only this user's own directories, of a process that no longer runs: another user's, or
                // a link in their place, are left alone (in a shared /tmp others cannot replace ours).
                if (!pid.matches("\\d{1,18}") || ProcessHandle.of(Long.parseLong(pid)).isPresent()
                        || !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)
                        || !Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).getName().equals(me)) {
                    continue;
                }
                deleteTree(dir);
            } catch (IOException | RuntimeException e) {
                // Being deleted by another JVM as we look, or holding what this user may not delete.
                LOG.debug("left the earlier directory " + dir + ": " + e);
            }
        }
    }

    /** Deletes {@code dir} and everything under it, links themselves rather than where they lead. */
    static void deleteTree(Path dir) throws IOException {
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path visited, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.deleteIfExists(visited);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
