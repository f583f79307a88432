package org.sparseattention.cli;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.sparseattention.errors.InvalidInputException;
import org.sparseattention.errors.Words;
import org.sparseattention.io.NpyWriter;
import org.sparseattention.io.WholeFiles;
import org.sparseattention.job.SparkSetup;
import org.sparseattention.layout.BlockLayout;
import org.sparseattention.layout.LayoutStats;
import org.sparseattention.layout.Patterns;
import org.sparseattention.plan.JobSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code layout}: shows which tiles a pattern computes, and what that costs. */
@Command(name = "layout", mixinStandardHelpOptions = true,
        description = "Prints the block layout of each head (a grid for small layouts) and its figures.")
final class LayoutCommand implements Callable<Integer> {
    /** Grids wider than this are not printed. */
    static final int MAX_PRINTED_BLOCKS = 64;

    @Option(names = "--seq-len", required = true, description = "Sequence length L.")
    int seqLen;

    @Mixin
    PatternOptions pattern;

    /** The most tiles listed and pairs checked that layout counts: about 20 s. */
    static final long MAX_COUNTED = 4_000_000_000L;

    @Option(names = "--head-dim", defaultValue = "64", description = "Head dimension D, for the FLOP count. Default: ${DEFAULT-VALUE}.")
    int headDim;

    @Option(names = "--npy", description = "Also write the grids as a [H, nb, nb] uint8 .npy (0 none, 1 partial, 2 full);"
            + " grids are made for --seq-len up to " + BlockLayout.MAX_GRID_LENGTH + " and --heads x --seq-len^2 / 2 pairs up to "
            + MAX_COUNTED + ".")
    String npy;

    @Option(names = "--overwrite", fallbackValue = "true", description = "Replace an existing --npy file.")
    boolean overwrite;

    @Override
    public Integer call() throws Exception {
        JobSettings.atLeastOne("--seq-len", seqLen);
        JobSettings.atLeastOne("--head-dim", headDim);
        pattern.check();
        BlockLayout layout = BlockLayout.of(Patterns.parse(pattern.mode, pattern.localCtx, pattern.blockSize,
                pattern.numVerts, pattern.vertsize), seqLen, pattern.blockSize, pattern.heads);
        // The launcher's file system settings, only for a file to write.
        WholeFiles files = npy == null ? null : WholeFiles.on(SparkSetup.launcherStorage());
        // The original-order grid checks every pair of every head.
        boolean grids = seqLen <= BlockLayout.MAX_GRID_LENGTH
                && (double) pattern.heads * seqLen * seqLen / 2 <= MAX_COUNTED;
        if (npy != null && !grids) {
            throw new InvalidInputException("--npy needs the original-order grid, computed for --seq-len up to "
                    + BlockLayout.MAX_GRID_LENGTH + " and --heads x --seq-len^2 / 2 pairs up to " + MAX_COUNTED
                    + ", got --seq-len " + seqLen + " and --heads " + pattern.heads);
        }
        if (npy != null) {
            files.checkWritable("--npy ", npy, overwrite);
        } else if (overwrite) {
            System.err.println("note: --overwrite does nothing without --npy");
        }
        // Far too many tiles, from a sample: refused at once. Up to ten times the bound, counting stops at it.
        double tiles = layout.estimatedTiles(10 * MAX_COUNTED);
        LayoutStats stats = tiles > 10 * MAX_COUNTED ? null : layout.stats(MAX_COUNTED);
        if (stats == null) {
            throw new InvalidInputException(String.format(Locale.ROOT, "--seq-len %d at --block-size %d, --heads %d:"
                    + " more than the %d tiles and pairs layout counts one by one (about 20 s); choose a larger"
                    + " --block-size, a shorter --seq-len or fewer --heads", seqLen, pattern.blockSize, pattern.heads,
                    MAX_COUNTED));
        }
        // After the checks: a refused command says only why.
        pattern.notes();
        int nb = layout.numBlocks();
        int withTiles = stats.framesWithTiles();
        System.out.printf(Locale.ROOT, "layout: mode %s, L=%d, block %d, %d x %d blocks, %d head%s, %d frame%s%s%n",
                pattern.mode, seqLen, pattern.blockSize, nb, nb, pattern.heads, pattern.heads == 1 ? "" : "s",
                layout.frameCount(), layout.frameCount() == 1 ? "" : "s",
                withTiles == layout.frameCount() ? "" : String.format(Locale.ROOT, " (%d with tiles: an earlier frame"
                        + " computes every pair of the others)", withTiles));
        for (int h = 0; h < pattern.heads; h++) {
            if (!grids) {
                System.out.printf(Locale.ROOT, "head %d: %s computed, %d of them full; %s%n", h,
                        Words.count(stats.tiles()[h], "tile"), stats.fullTiles()[h],
                        Words.count(stats.allowedPairs()[h], "allowed pair"));
                continue;
            }
            // One head's grid at a time (nb^2 bytes each): every head's at once could pass the heap.
            byte[][] cells = layout.originalGrid(h);
            long covered = 0;
            for (byte[] row : cells) {
                for (byte cell : row) {
                    covered += cell != 0 ? 1 : 0;
                }
            }
            System.out.printf(Locale.ROOT, "head %d: %d of %s %s allowed pairs (%.1f%%); %s computed,"
                            + " %d of them full; %s%n", h, covered, Words.count((long) nb * nb, "block"),
                    covered == 1 ? "holds" : "hold",
                    100.0 * covered / ((double) nb * nb), Words.count(stats.tiles()[h], "tile"), stats.fullTiles()[h],
                    Words.count(stats.allowedPairs()[h], "allowed pair"));
            if (nb <= MAX_PRINTED_BLOCKS) {
                for (byte[] row : cells) {
                    StringBuilder line = new StringBuilder("  ");
                    for (byte cell : row) {
                        line.append(cell == 2 ? '#' : cell == 1 ? '+' : '.');
                    }
                    System.out.println(line);
                }
            }
        }
        System.out.printf(Locale.ROOT, "total: %s, %s, density %.4f of causal, useful %s GFLOP per batch"
                        + " item at D=%d%n", Words.count(stats.totalTiles(), "tile"),
                Words.count(stats.totalAllowedPairs(), "allowed pair"), stats.density(),
                Words.figure(stats.usefulFlops(headDim) / 1e9, 6), headDim);
        if (grids && nb <= MAX_PRINTED_BLOCKS) {
            System.out.println("grid: # all pairs allowed, + some, . none (rows: query blocks, columns: key blocks)");
        } else if (grids) {
            System.out.println("(grids printed up to " + MAX_PRINTED_BLOCKS + " x " + MAX_PRINTED_BLOCKS + " blocks"
                    + (npy == null ? "; --npy FILE writes them all)" : "; --npy writes them all)"));
        } else if (seqLen <= BlockLayout.MAX_GRID_LENGTH) {
            System.out.println("(no grids: --heads x --seq-len^2 / 2 pairs to check is over " + MAX_COUNTED + ")");
        } else {
            System.out.println("(no grids, nor blocks that hold allowed pairs: computed for --seq-len up to "
                    + BlockLayout.MAX_GRID_LENGTH + ")");
        }
        if (npy != null) {
            // Written beside the file and renamed over it: an existing file is replaced whole or not at all.
            List<org.apache.hadoop.fs.Path> leftOver = files.writeWhole("--npy ", List.of(npy), overwrite, (file, out) -> {
                out.write(NpyWriter.header("|u1", new long[] {pattern.heads, nb, nb}));
                for (int h = 0; h < pattern.heads; h++) {
                    for (byte[] row : layout.originalGrid(h)) {
                        out.write(row);
                    }
                }
            });
            Main.warnLeftOver(leftOver);
            System.out.println("wrote " + npy);
        }
        return 0;
    }
}
