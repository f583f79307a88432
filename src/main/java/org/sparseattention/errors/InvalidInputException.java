package org.sparseattention.errors;

/** Bad arguments, settings or input files: never retried, reported before any work starts. */
public class InvalidInputException extends SparseAttentionException {
    public InvalidInputException(String message) {
        super(message);
    }

    public InvalidInputException(String message, Throwable cause) {
        super(message, cause);
    }

    /** Returns this error with {@code option} (as {@code --q}) before its message, as errors about an option read. */
    public InvalidInputException naming(String option) {
        return new InvalidInputException(option + " " + getMessage(), this);
    }
}
