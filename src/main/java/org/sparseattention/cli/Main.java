package org.sparseattention.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Reader;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiPredicate;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.SparseAttentionException;
import org.sparseattention.io.WholeFiles;
import org.sparseattention.job.SparkSetup;
import org.sparseattention.job.SparseAttentionJob;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The one entry point of both launch paths. Exit status: 0 success, 2 bad usage or bad input
 * (options, headers and locations before any work starts; bad values as tasks read them, or an
 * output location that changed while the job ran, at its end; no output is put in place), 1 a
 * failure while running.
 */
@Command(name = "sparse-attention", mixinStandardHelpOptions = true, version = Main.VERSION,
        description = "Block-sparse attention (Child et al. 2019) over very long sequences, on Spark.",
        subcommands = {RunCommand.class, LayoutCommand.class, GenerateCommand.class, BenchCommand.class,
            VerifyCommand.class})
public final class Main {
    static final String VERSION = org.sparseattention.SparseAttention.VERSION;

    /** spark-submit's options, which a command given them after jobs/spark-submit's '--' refuses. */
    private static final java.util.Set<String> SPARK_SUBMIT_OPTIONS = java.util.Set.of("--conf", "-c",
            "--executor-memory", "--driver-memory", "--executor-cores", "--num-executors", "--total-executor-cores",
            "--deploy-mode", "--jars", "--packages", "--files", "--class", "--name", "--properties-file",
            "--driver-java-options", "--driver-class-path", "--driver-cores", "--queue", "--verbose", "--supervise",
            "--py-files", "--archives", "--repositories", "--proxy-user");
    public static final int BAD_INPUT = 2;
    public static final int FAILED = 1;
    /** System property naming a properties file of option defaults (keys: long option names). */
    public static final String DEFAULTS_PROPERTY = "sparseattention.defaults";

    /**
     * Options only the command line may set: replacing what a user has and computing with
     * non-finite values must be asked for each time, not by a line in a shared defaults file.
     */
    static final Set<String> COMMAND_LINE_ONLY = Set.of("--overwrite", "--allow-nonfinite");

    /** Reads the option defaults file's keys, or warns and returns none. */
    private static Properties readDefaults(CommandLine line, String file) {
        Properties keys = new Properties();
        try (Reader in = Files.newBufferedReader(Path.of(file), StandardCharsets.UTF_8)) {
            keys.load(in);
            // A properties file keeps the spaces after a value ('block-size = 32 '), which no option wants.
            keys.replaceAll((key, value) -> value.toString().strip());
        } catch (IOException | RuntimeException e) {
            line.getErr().println("warning: could not read the option defaults in " + file + ": " + e);
        }
        return keys;
    }

    /**
     * Warns of keys in the option defaults file that name no option of any command (they would go
     * unnoticed) or an option only the command line may set (ignored).
     */
    private static void warnOfUnknownDefaults(CommandLine line, String file, Properties keys) {
        // The keys picocli reads: an option's longest name, alone or after its command's qualified name.
        Set<String> known = new HashSet<>();
        for (CommandLine command : line.getSubcommands().values()) {
            for (OptionSpec option : command.getCommandSpec().options()) {
                String name = option.longestName().replaceFirst("^-+", "");
                known.add(name);
                known.add(command.getCommandSpec().qualifiedName(".") + "." + name);
            }
        }
        for (String key : new TreeSet<>(keys.stringPropertyNames())) {
            if (!known.contains(key)) {
                line.getErr().println("warning: " + file + ": '" + key + "' is no option of any command; ignored");
            } else if (COMMAND_LINE_ONLY.contains("--" + key.substring(key.lastIndexOf('.') + 1))) {
                line.getErr().println("warning: " + file + ": '" + key + "' ignored: only the command line may set it");
            }
        }
        line.getErr().flush();
    }

    /**
     * Returns a note naming the defaults file and key of each option of {@code command} that
     * {@code message} names and that took its value from that file's key ({@code fromFile}), or "".
     */
    private static String fromDefaults(String message, CommandSpec command, BiPredicate<OptionSpec, String> fromFile,
            Properties keys, String file) {
        if (keys.isEmpty() || message == null) {
            return "";
        }
        String qualified = command.qualifiedName(".");
        StringBuilder note = new StringBuilder();
        java.util.regex.Matcher names = java.util.regex.Pattern.compile("--[a-z][a-z-]*").matcher(message);
        Set<String> seen = new HashSet<>();
        while (names.find()) {
            String name = names.group();
            OptionSpec option = command.findOption(name);
            if (option == null || COMMAND_LINE_ONLY.contains(name) || !seen.add(name)) {
                continue;
            }
            String bare = name.substring(2);
            String key = keys.containsKey(qualified + "." + bare) ? qualified + "." + bare
                    : keys.containsKey(bare) ? bare : null;
            if (key != null && fromFile.test(option, key)) {
                note.append(note.length() == 0 ? " (" : "; ").append(name).append(" from ").append(file).append(": '")
                        .append(key).append("'");
            }
        }
        return note.length() == 0 ? "" : note.append(")").toString();
    }

    /** Names each file a command replaced but could not delete once moved aside ({@code WholeFiles.publish}). */
    static void warnLeftOver(List<org.apache.hadoop.fs.Path> leftOver) {
        for (org.apache.hadoop.fs.Path aside : leftOver) {
            System.err.println("warning: the new file is in place, but the one it replaced could not be deleted: it is"
                    + " in " + aside + " (remove it yourself)");
        }
    }

    /** Set once the command has ended or said what an interruption left (a later shutdown has nothing to add). */
    private static volatile boolean settled;
    /** Set when SIGINT, SIGTERM or SIGHUP came: a shutdown for any other reason (an exit elsewhere) is no interruption. */
    private static volatile boolean signalled;

    /** Marks the command's outcome as said: a shutdown from now on reports itself, if at all. */
    static void settle() {
        settled = true;
    }

    public static void main(String[] args) {
        watchSignals();
        // Last of the shutdown hooks (after Spark's and the file systems'): a signal that came before
        // any part of the command could say what it left (a JVM or Spark still starting, a plan being
        // made) would otherwise end the command with its exit status alone.
        org.apache.hadoop.util.ShutdownHookManager.get().addShutdownHook(() -> {
            long deadline = System.nanoTime() + 1_000_000_000L;
            while (signalled && !settled && System.nanoTime() < deadline) {
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                }
            }
            if (!signalled || settled || SparseAttentionJob.interruptionReported() || WholeFiles.interruptionReported()) {
                return;
            }
            String written = WholeFiles.lastWritten();
            System.err.println(written == null ? "interrupted: stopped before anything was written"
                    : "interrupted after " + written + " written whole");
        }, 0);
        // First of them, before Spark's: Spark and the committer stopped half-way by a signal log
        // errors that are no news (a run's output guard does the same while the job runs).
        org.apache.hadoop.util.ShutdownHookManager.get().addShutdownHook(() -> {
            if (signalled && !settled) {
                SparkSetup.quietSpark();
            }
        }, org.apache.hadoop.fs.FileSystem.SHUTDOWN_HOOK_PRIORITY + 35);
        int status = FAILED;
        try {
            status = execute(args);
        } catch (Error e) {
            // A class that failed to initialise because a signal was shutting the JVM down (Spark's, as it starts).
            if (!signalled) {
                throw e;
            }
        } finally {
            if (!signalled) {
                settle();
            }
        }
        System.exit(status);
    }

    /**
     * Notes SIGINT, SIGTERM and SIGHUP as they come, then lets the JVM's own handling go on (its shutdown);
     * a signal this JVM ignores (started in the background of a script) stays ignored.
     */
    private static void watchSignals() {
        for (String name : new String[] {"INT", "TERM", "HUP"}) {
            try {
                sun.misc.Signal signal = new sun.misc.Signal(name);
                sun.misc.SignalHandler[] previous = new sun.misc.SignalHandler[1];
                previous[0] = sun.misc.Signal.handle(signal, s -> {
                    signalled = true;
                    previous[0].handle(s);
                });
                if (previous[0] == sun.misc.SignalHandler.SIG_IGN) {
                    sun.misc.Signal.handle(signal, sun.misc.SignalHandler.SIG_IGN);
                }
            } catch (IllegalArgumentException taken) {
                // Not a signal the JVM lets this code handle here: its shutdown then reports nothing extra.
            }
        }
    }

    /** Reads a whole number as picocli does ({@code Long.valueOf}), saying which bound a number out of range passes. */
    static long whole(String value, long min, long max) {
        BigInteger number;
        try {
            number = new BigInteger(value);
        } catch (NumberFormatException e) {
            throw new CommandLine.TypeConversionException("'" + value + "' is not a whole number");
        }
        if (number.compareTo(BigInteger.valueOf(max)) > 0) {
            throw new CommandLine.TypeConversionException("'" + value + "' is more than " + max
                    + ", the largest whole number this option can hold");
        }
        if (number.compareTo(BigInteger.valueOf(min)) < 0) {
            throw new CommandLine.TypeConversionException("'" + value + "' is less than " + min
                    + ", the smallest whole number this option can hold");
        }
        return number.longValueExact();
    }

    /** Runs the command line and returns its exit status instead of exiting. */
    public static int execute(String... args) {
        CommandLine line = new CommandLine(new Main());
        // Every command's --version (offered by its --help) gives the tool's version.
        line.getSubcommands().values().forEach(command -> command.getCommandSpec().version(VERSION));
        // picocli calls a number beyond an int's range "not an int": these name the bound it passes.
        line.registerConverter(Integer.class, value -> (int) whole(value, Integer.MIN_VALUE, Integer.MAX_VALUE))
                .registerConverter(int.class, value -> (int) whole(value, Integer.MIN_VALUE, Integer.MAX_VALUE))
                .registerConverter(Long.class, value -> whole(value, Long.MIN_VALUE, Long.MAX_VALUE))
                .registerConverter(long.class, value -> whole(value, Long.MIN_VALUE, Long.MAX_VALUE));
        String defaults = System.getProperty(DEFAULTS_PROPERTY);
        boolean hasDefaults = defaults != null && !defaults.isEmpty();
        // Read once: picocli takes the defaults from these properties, the warnings and notes their keys.
        Properties defaultKeys = hasDefaults ? readDefaults(line, defaults) : new Properties();
        if (hasDefaults) {
            CommandLine.IDefaultValueProvider file = new CommandLine.PropertiesDefaultProvider(defaultKeys);
            line.setDefaultValueProvider(argument -> argument instanceof OptionSpec option
                    && COMMAND_LINE_ONLY.contains(option.longestName()) ? null : file.defaultValue(argument));
            warnOfUnknownDefaults(line, defaults, defaultKeys);
        }
        // A mistyped or missing option: the error and where the usage is, not the whole usage.
        line.setParameterExceptionHandler((e, given) -> {
            CommandLine cmd = e.getCommandLine();
            PrintWriter err = cmd.getErr();
            // A value the defaults file gave that picocli cannot convert ('abc' for a number) is named
            // with its key: the failing value is that key's (not one typed, or read from an @file).
            BiPredicate<OptionSpec, String> fromFile = (option, key) -> option == e.getArgSpec()
                    && defaultKeys.getProperty(key).equals(e.getValue());
            err.println("error: " + e.getMessage() + fromDefaults(e.getMessage(), cmd.getCommandSpec(), fromFile,
                    defaultKeys, defaults));
            CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
            if (e instanceof CommandLine.UnmatchedArgumentException unmatched && unmatched.getUnmatched().stream()
                    .anyMatch(word -> SPARK_SUBMIT_OPTIONS.contains(word.split("=", 2)[0]))) {
                err.println("note: spark-submit's options go before '--' (jobs/spark-submit [spark-submit options] --"
                        + " <command> ...); jobs/sparse-attention takes Spark settings as -Dspark.* in"
                        + " SPARSE_ATTENTION_JAVA_OPTS");
            }
            if (e instanceof CommandLine.UnmatchedArgumentException && cmd == line && given.length > 0
                    && !given[0].startsWith("-")) {
                err.println("commands: " + String.join(", ", line.getSubcommands().keySet()));
            }
            err.println("usage: " + cmd.getCommandSpec().qualifiedName() + " --help");
            return BAD_INPUT;
        });
        line.setExecutionExceptionHandler((e, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            if (e instanceof SparseAttentionException && String.valueOf(e.getMessage()).startsWith("interrupted:")) {
                settle();
                // A shutdown hook reports an interruption (a run's, a written file's) itself.
                if (!SparseAttentionJob.interruptionReported() && !WholeFiles.interruptionReported()) {
                    err.println(e.getMessage());
                }
                return FAILED;
            }
            if (signalled) {
                // What broke under a signal (Spark starting, a file system closed under a read) is no
                // error of the command: the last shutdown hook says it was interrupted.
                return FAILED;
            }
            if (e instanceof InvalidInputException) {
                CommandLine.ParseResult command = parsed.subcommand() == null ? parsed : parsed.subcommand();
                err.println("error: " + e.getMessage() + fromDefaults(e.getMessage(), command.commandSpec(),
                        (option, key) -> !command.hasMatchedOption(option), defaultKeys, defaults));
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
        // picocli lets words it does not know pass where --help is asked for ("compute --help" would
        // print the tool's help and succeed): refused as they are without it.
        line.setExecutionStrategy(parsed -> {
            for (CommandLine.ParseResult command = parsed; command != null; command = command.subcommand()) {
                if (!command.unmatched().isEmpty()) {
                    throw new CommandLine.UnmatchedArgumentException(command.commandSpec().commandLine(),
                            command.unmatched());
                }
            }
            return new CommandLine.RunLast().execute(parsed);
        });
        return line.execute(args);
    }
}
