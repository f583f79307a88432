package org.sparseattention.cli;

import java.io.PrintWriter;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The one entry point of both launch paths. Exit status: 0 success, 2 bad usage or bad input
 * (options, headers and locations before any work starts; bad values as tasks read them, or an
 * output location that changed while the job ran, at its end; no output is put in place), 1 a
 * failure while running.
 */
@Command(name = "sparse-attention", mixinStandardHelpOptions = true, version = "sparse-attention 0.1.0",
        description = "Block-sparse attention (Child et al. 2019) over very long sequences, on Spark.",
        subcommands = {RunCommand.class, LayoutCommand.class, GenerateCommand.class, BenchCommand.class,
            VerifyCommand.class})
public final class Main {
    public static final int BAD_INPUT = 2;
    public static final int FAILED = 1;
    /** System property naming a properties file of option defaults (keys: long option names). */
    public static final String DEFAULTS_PROPERTY = "sparseattention.defaults";

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns its exit status instead of exiting. */
    public static int execute(String... args) {
        CommandLine line = new CommandLine(new Main());
        String defaults = System.getProperty(DEFAULTS_PROPERTY);
        if (defaults != null && !defaults.isEmpty()) {
            line.setDefaultValueProvider(new CommandLine.PropertiesDefaultProvider(new java.io.File(defaults)));
        }
        line.setExecutionExceptionHandler((e, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            if (e instanceof InvalidInputException) {
                err.println("error: " + e.getMessage());
                return BAD_INPUT;
            }
            if (e instanceof SparseAttentionException) {
                err.println("error: " + e.getMessage());
                return FAILED;
            }
            err.println("error: " + e);
            e.printStackTrace(err);
            return FAILED;
        });
        return line.execute(args);
    }
}
