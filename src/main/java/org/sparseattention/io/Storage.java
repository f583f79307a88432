package org.sparseattention.io;

import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;

/**
 * The file operations the project needs, by URI. The one implementation is {@link
 * HadoopStorage}; tests and kernels never see a file system.
 */
public interface Storage {

    /** Returns the length of the file at {@code uri}; a missing file is an InvalidInputException. */
    long length(String uri) throws IOException;

    /** Returns whether anything exists at {@code uri}. */
    boolean exists(String uri) throws IOException;

    /** Opens {@code uri} for positioned reads. */
    Input open(String uri) throws IOException;

    /** Creates (or replaces) the file at {@code uri}, parents included. */
    OutputStream create(String uri) throws IOException;

    /** Positioned reads: "seek, then read", safe to call in any order. */
    interface Input extends Closeable {
        void readFully(long position, byte[] buffer, int offset, int length) throws IOException;

        /** Reads {@code target.remaining()} bytes at {@code position} into {@code target}, advancing it. */
        default void readFully(long position, ByteBuffer target) throws IOException {
            byte[] bytes = new byte[target.remaining()];
            readFully(position, bytes, 0, bytes.length);
            target.put(bytes);
        }
    }
}
