package org.sparseattention.errors;

/**
 * Bad arguments, settings or input files: never retried. Reported before any work starts, except
 * what only the work finds (a value float32 cannot hold, scores that overflow it).
 */
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
