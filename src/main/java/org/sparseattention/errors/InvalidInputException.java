package org.sparseattention.errors;

/** Bad arguments, settings or input files: never retried, reported before any work starts. */
public class InvalidInputException extends SparseAttentionException {
    public InvalidInputException(String message) {
        super(message);
    }

    public InvalidInputException(String message, Throwable cause) {
        super(message, cause);
    }

    @Override
    public InvalidInputException naming(String option) {
        return new InvalidInputException(option + " " + getMessage(), this);
    }
}
