package org.sparseattention.job;

import java.io.IOException;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.io.HadoopStorage;
import org.sparseattention.errors.SparseAttentionException;

/**
 * Where a run writes: a hidden staging directory beside the output, renamed into place only when
 * complete. A failed run deletes its staging directory and never touches an existing output.
 */
final class OutputLocation {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(OutputLocation.class);
    private final FileSystem fs;
    private final Path out;
    private final Path staging;

    OutputLocation(String outUri, Configuration configuration) throws IOException {
        Path path = new Path(outUri);
        this.fs = HadoopStorage.raw(path.getFileSystem(configuration));
        this.out = fs.makeQualified(path);
        if (out.getParent() == null) {
            throw new InvalidInputException("--out " + outUri + ": the output cannot be a file system root");
        }
        this.staging = new Path(out.getParent(), "." + out.getName() + ".staging-" + UUID.randomUUID());
    }

    FileSystem fileSystem() {
        return fs;
    }

    Path staging() {
        return staging;
    }

    Path out() {
        return out;
    }

    /**
     * Moves the staging directory to the output. An existing output (allowed only with
     * {@code overwrite}) is first moved aside and deleted only after the new one is in place.
     */
    void promote(boolean overwrite) throws IOException {
        Path backup = null;
        if (fs.exists(out)) {
            if (!overwrite) {
                throw new InvalidInputException("--out " + out + " appeared while the job ran; pass --overwrite to replace it");
            }
            backup = new Path(out.getParent(), "." + out.getName() + ".replaced-" + UUID.randomUUID());
            if (!fs.rename(out, backup)) {
                throw new SparseAttentionException("could not move the previous output " + out + " aside to " + backup);
            }
        }
        if (!fs.rename(staging, out)) {
            if (backup != null && !fs.rename(backup, out)) {
                throw new SparseAttentionException("could not move the finished output " + staging + " to " + out
                        + ", nor the previous output back from " + backup + ": it is complete there");
            }
            throw new SparseAttentionException("could not move the finished output " + staging + " to " + out);
        }
        if (backup != null) {
            try {
                fs.delete(backup, true);
            } catch (IOException e) {
                LOG.warn("the new output is in place, but the previous one could not be deleted from " + backup, e);
            }
        }
    }

    /** Deletes the staging directory, if any; the output is untouched. */
    void discard() {
        try {
            fs.delete(staging, true);
        } catch (IOException ignored) {
            // Best effort: a leftover hidden staging directory holds no user data.
        }
    }
}
