package org.sparseattention.job;

import java.net.URI;
import org.apache.hadoop.fs.RawLocalFileSystem;

/**
 * Local files under a scheme of a test's own (register it as {@code fs.<scheme>.impl}, with
 * {@code fs.<scheme>.impl.disable.cache} so that each test gets a fresh instance), for file
 * systems that misbehave in one chosen way.
 */
public abstract class SchemeLocalFileSystem extends RawLocalFileSystem {
    private final String scheme;

    protected SchemeLocalFileSystem(String scheme) {
        this.scheme = scheme;
    }

    @Override
    public URI getUri() {
        return URI.create(scheme + ":///");
    }

    @Override
    public String getScheme() {
        return scheme;
    }
}
