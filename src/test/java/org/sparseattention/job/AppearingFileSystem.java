package org.sparseattention.job;

import java.io.File;
import java.io.IOException;
import org.apache.hadoop.fs.Path;

/**
 * Local files under the scheme {@code appearing:}, where a directory named {@code out} appears
 * just after the first check that it does not exist: another run finishing first, between this
 * run's last check and its rename. No {@code FileContext} serves the scheme.
 */
public class AppearingFileSystem extends SchemeLocalFileSystem {
    private boolean appeared;

    public AppearingFileSystem() {
        super("appearing");
    }

    @Override
    public boolean exists(Path path) throws IOException {
        boolean exists = super.exists(path);
        if (!exists && !appeared && path.getName().equals("out")) {
            appeared = true;
            new File(path.toUri().getPath()).mkdirs();
        }
        return exists;
    }
}
