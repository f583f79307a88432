package org.sparseattention.job;

import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import org.apache.hadoop.fs.Path;

/**
 * Local files under the scheme {@code blocking:}, whose renames wait for the test to let them go:
 * a run caught in the middle of putting its output in place. No {@code FileContext} serves the
 * scheme.
 */
public class BlockingRenameFileSystem extends SchemeLocalFileSystem {
    /** Counted down when a rename starts. */
    static volatile CountDownLatch renaming = new CountDownLatch(1);
    /** Renames wait for this. */
    static volatile CountDownLatch proceed = new CountDownLatch(1);

    public BlockingRenameFileSystem() {
        super("blocking");
    }

    @Override
    public boolean rename(Path from, Path to) throws IOException {
        renaming.countDown();
        try {
            proceed.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        return super.rename(from, to);
    }
}
