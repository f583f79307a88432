package org.sparseattention.errors;

/** Base of the project's exceptions: a user reading the message knows what to change. */
public class SparseAttentionException extends RuntimeException {
    public SparseAttentionException(String message) {
        super(message);
    }

    public SparseAttentionException(String message, Throwable cause) {
        super(message, cause);
    }
}
