package org.sparseattention.job;

import java.io.IOException;
import org.apache.hadoop.fs.Path;

/**
 * Local files under the scheme {@code undeletable:}, where a previous output moved aside
 * ({@code .NAME.replaced-*}) cannot be deleted, as with files this user may not remove: the
 * delete says false, as Hadoop's local one does.
 */
public class UndeletableAsideFileSystem extends SchemeLocalFileSystem {
    public UndeletableAsideFileSystem() {
        super("undeletable");
    }

    @Override
    public boolean delete(Path path, boolean recursive) throws IOException {
        return !path.getName().contains(".replaced-") && super.delete(path, recursive);
    }
}
