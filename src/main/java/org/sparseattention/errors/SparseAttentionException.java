package org.sparseattention.errors;

/** Base of the project's exceptions: a user reading the message knows what to change. */
public class SparseAttentionException extends RuntimeException {
    public SparseAttentionException(String message) {
        super(message);
    }

    public SparseAttentionException(String message, Throwable cause) {
        super(message, cause);
    }

    /** Returns this error with {@code option} (as {@code --q}) before its message, as errors about an option read. */
    public SparseAttentionException naming(String option) {
        return new SparseAttentionException(option + " " + getMessage(), this);
    }
}
