package org.sparseattention.layout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.sparseattention.errors.InvalidInputException;

class BlockLayoutTest {

    private static int coveredTiles(BlockLayout layout, int head) {
        int covered = 0;
        for (byte[] row : layout.originalGrid(head)) {
            for (byte cell : row) {
                covered += cell != 0 ? 1 : 0;
            }
        }
        return covered;
    }

    @Test
    void localCoversSeventyOfTheSixteenBySixteenGrid() {
        BlockLayout layout = BlockLayout.of(Pattern.local(32), 128, 8, 1);
        assertEquals(70, coveredTiles(layout, 0));
        assertEquals(70, layout.stats().totalTiles());
    }

    @Test
    void allCoversThirtySixOfSixtyFour() {
        BlockLayout layout = BlockLayout.of(Pattern.all(), 128, 16, 2);
        assertEquals(36, coveredTiles(layout, 1));
        assertEquals(72, layout.stats().totalTiles());
        assertEquals(2L * 128 * 129 / 2, layout.stats().totalAllowedPairs());
    }

    @Test
    void fixedHeadsReadTheirOwnSummaryColumns() {
        // l = 32, bs = 8: S = 4 blocks per window; num_verts = 2, vertsize = 2.
        FixedPattern fixed = new FixedPattern(32, 8, 2, 2);
        assertTrue(fixed.isSummaryColumn(0, 3));
        assertTrue(fixed.isSummaryColumn(0, 2));
        assertFalse(fixed.isSummaryColumn(0, 1));
        assertTrue(fixed.isSummaryColumn(1, 1));
        assertTrue(fixed.isSummaryColumn(1, 0));
        assertFalse(fixed.isSummaryColumn(1, 2));
        assertTrue(fixed.isSummaryColumn(2, 3), "head 2 repeats head 0");
        // Query 70 (window 2) may read key 16 (window 0, column 2) in head 0 but not in head 1.
        assertTrue(fixed.allows(0, 70, 16));
        assertFalse(fixed.allows(1, 70, 16));
        assertTrue(fixed.allows(1, 70, 8));
        assertFalse(fixed.allows(0, 70, 8));
        assertTrue(fixed.allows(1, 70, 64), "own window");
        assertFalse(fixed.allows(0, 70, 71), "causal");

        BlockLayout layout = BlockLayout.of(fixed, 96, 8, 2);
        TileList tiles = new TileList();
        layout.keyBlocks(0, 0, 9, tiles);
        assertEquals(List.of(2, 3, 6, 7, 8, 9), keyBlocks(tiles));
        layout.keyBlocks(0, 1, 9, tiles);
        assertEquals(List.of(0, 1, 4, 5, 8, 9), keyBlocks(tiles));
    }

    @Test
    void fixedChecksItsConstraints() {
        assertThrows(InvalidInputException.class, () -> Pattern.fixed(30, 8, 1, 1));
        InvalidInputException vertsize = assertThrows(InvalidInputException.class, () -> Pattern.fixed(32, 8, 1, 3));
        assertTrue(vertsize.getMessage().contains("--local-ctx 32 / --block-size 8 = 4) must be a multiple of vertsize"
                + " (--vertsize) 3"), vertsize.getMessage());
        InvalidInputException verts = assertThrows(InvalidInputException.class, () -> Pattern.fixed(32, 8, 3, 2));
        assertTrue(verts.getMessage().contains("(--local-ctx 32 / --block-size 8): 3 * 2 > 4"), verts.getMessage());
        InvalidInputException heads = assertThrows(InvalidInputException.class,
                () -> BlockLayout.of(Pattern.fixed(32, 8, 2, 1), 64, 8, 3));
        assertTrue(heads.getMessage().contains("3 % 2"), heads.getMessage());
        // Also in a per-head list with fewer heads than parts, where no head is `fixed`.
        InvalidInputException unused = assertThrows(InvalidInputException.class,
                () -> BlockLayout.of(Patterns.parse("local,fixed", 8, 2, 2, 1), 10, 2, 1));
        assertTrue(unused.getMessage().contains("1 % 2"), unused.getMessage());
        assertTrue(unused.getMessage().endsWith("(item 1 of the per-head list 'local,fixed', which the one head"
                + " does not use; every item is checked)"), unused.getMessage());
        InvalidInputException used = assertThrows(InvalidInputException.class,
                () -> BlockLayout.of(Patterns.parse("fixed,local", 8, 2, 2, 1), 10, 2, 3));
        assertTrue(used.getMessage().endsWith("(item 0 of the per-head list 'fixed,local', used by heads 0 and 2)"),
                used.getMessage());
        InvalidInputException many = assertThrows(InvalidInputException.class,
                () -> BlockLayout.of(Patterns.parse("local,fixed", 8, 2, 4, 1), 10, 2, 10));
        assertTrue(many.getMessage().endsWith("(item 1 of the per-head list 'local,fixed', used by heads 1, 3, 5, ...)"),
                many.getMessage());
        InvalidInputException one = assertThrows(InvalidInputException.class,
                () -> BlockLayout.of(Patterns.parse("local,fixed", 8, 2, 4, 1), 10, 2, 2));
        assertTrue(one.getMessage().endsWith("(item 1 of the per-head list 'local,fixed', used by head 1)"),
                one.getMessage());
    }

    @Test
    void aMissingPatternIsNamed() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> BlockLayout.of(null, 20, 8, 2));
        assertEquals("pattern must not be null", e.getMessage());
        assertEquals(List.of(), Patterns.names(null));
    }

    /** Checked as the layout is made (not when its first tile is listed), naming both block sizes. */
    @Test
    void fixedBuiltForAnotherBlockSizeIsRefusedWithTheLayout() {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> BlockLayout.of(Pattern.union(Pattern.local(8), Pattern.fixed(32, 8, 4, 1)), 100, 16, 4));
        assertEquals("fixed: the pattern was built for block size 8 but the layout uses 16", e.getMessage());
    }

    @Test
    void stridedZeroIsRefusedWithTheValue() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> Pattern.strided(0));
        assertTrue(e.getMessage().contains("got 0"), e.getMessage());
    }

    @Test
    void nullPartsOfUnionsAndMixesAreRefusedByPosition() {
        InvalidInputException union = assertThrows(InvalidInputException.class,
                () -> Pattern.union(Pattern.local(3), null));
        assertEquals("a union's parts must not be null, got null as part 1", union.getMessage());
        assertThrows(InvalidInputException.class, () -> Pattern.union((Pattern[]) null));
        InvalidInputException mix = assertThrows(InvalidInputException.class,
                () -> Pattern.perHead(java.util.Arrays.asList(Pattern.all(), null, Pattern.local(2))));
        assertEquals("a per-head list's patterns must not be null, got null for head 1 (mod 3)", mix.getMessage());
        assertEquals("a per-head list needs at least one pattern, got null",
                assertThrows(InvalidInputException.class, () -> Pattern.perHead(null)).getMessage());
    }

    private static List<Integer> keyBlocks(TileList tiles) {
        Integer[] blocks = new Integer[tiles.size()];
        for (int t = 0; t < tiles.size(); t++) {
            blocks[t] = tiles.keyBlock(t);
        }
        return List.of(blocks);
    }

    /**
     * Every allowed pair is computed in exactly one frame, inside a listed tile; no forbidden
     * pair is; a tile marked full has every pair allowed; a listed tile holds at least one allowed
     * pair (SEMANTICS.md: only such tiles are computed).
     */
    @Test
    void framesPartitionTheAllowedPairsExactly() {
        List<Pattern> patterns = List.of(
                Pattern.all(), Pattern.local(1), Pattern.local(5), Pattern.local(0), Pattern.local(64),
                Pattern.strided(1), Pattern.strided(3), Pattern.strided(7), Pattern.strided(40),
                Pattern.union(Pattern.local(6), Pattern.strided(6)),
                Pattern.union(Pattern.local(10), Pattern.strided(4)),
                Pattern.union(Pattern.local(4), Pattern.strided(10)),
                Pattern.union(Pattern.local(3), Pattern.strided(3)),
                Pattern.union(Pattern.strided(3), Pattern.strided(5), Pattern.all()),
                Pattern.perHead(List.of(Pattern.local(4), Pattern.strided(4), Pattern.all())));
        int alignedResidues = 0;
        for (int seqLen : new int[] {1, 2, 17, 37}) {
            for (int blockSize : new int[] {1, 3, 8}) {
                for (Pattern pattern : patterns) {
                    check(BlockLayout.of(pattern, seqLen, blockSize, 3), pattern.describe());
                }
                if (blockSize != 3) {
                    Pattern fixed = Pattern.fixed(2 * blockSize, blockSize, 1, 1);
                    check(BlockLayout.of(fixed, seqLen, blockSize, 3), "fixed");
                    Pattern fixedUnion = Pattern.union(Pattern.fixed(4 * blockSize, blockSize, 2, 2),
                            Pattern.strided(5));
                    check(BlockLayout.of(fixedUnion, seqLen, blockSize, 4), "fixed+strided");
                    // Strides that are multiples of the window: fixed's keys in a class are one interval.
                    for (int windows : new int[] {1, 2}) {
                        Pattern aligned = Pattern.union(Pattern.fixed(2 * blockSize, blockSize, 2, 1),
                                Pattern.strided(windows * 2 * blockSize));
                        BlockLayout layout = BlockLayout.of(aligned, seqLen, blockSize, 4);
                        if (layout.frameCount() > 1) {
                            assertTrue(layout.hasIntervals(1, 0) && layout.hasIntervals(1, 1), "fixed+strided aligned");
                            alignedResidues++;
                        }
                        check(layout, "fixed+strided aligned x" + windows);
                    }
                }
            }
        }
        assertTrue(alignedResidues > 0, "some aligned fixed+strided layout has a residue frame");
    }

    private static void check(BlockLayout layout, String name) {
        int seqLen = layout.seqLen();
        TileList tiles = new TileList();
        // The layout's own figures, counted here from the tiles listed and the pattern's pairs.
        long[] tileCount = new long[layout.heads()];
        long[] fullCount = new long[layout.heads()];
        long[] pairCount = new long[layout.heads()];
        long[] frameTiles = new long[layout.frameCount()];
        for (int h = 0; h < layout.heads(); h++) {
            int[][] computed = new int[seqLen][seqLen];
            for (int f = 0; f < layout.frameCount(); f++) {
                BlockGrid grid = layout.grid(f);
                for (int qb = 0; qb < grid.numBlocks(); qb++) {
                    layout.keyBlocks(f, h, qb, tiles);
                    Set<Integer> listed = new HashSet<>();
                    for (int t = 0; t < tiles.size(); t++) {
                        int kb = tiles.keyBlock(t);
                        assertTrue(listed.add(kb), name + ": tile listed twice");
                        tileCount[h]++;
                        fullCount[h] += tiles.isFull(t) ? 1 : 0;
                        frameTiles[f]++;
                        boolean any = false;
                        for (int r = grid.blockStart(qb); r < grid.blockEnd(qb); r++) {
                            for (int c = grid.blockStart(kb); c < grid.blockEnd(kb); c++) {
                                boolean allowed = layout.allowed(f, h, r, c);
                                if (tiles.isFull(t)) {
                                    assertTrue(allowed, name + ": full tile with a masked pair");
                                } else if (layout.hasIntervals(f, h)) {
                                    boolean inside = c >= layout.firstAllowedRow(f, h, r) && c <= layout.lastAllowedRow(f, h, r);
                                    assertEquals(allowed, inside, name + ": interval of frame " + f + " row " + r + " key " + c);
                                }
                                if (allowed) {
                                    computed[grid.frame().original(r)][grid.frame().original(c)]++;
                                    any = true;
                                }
                            }
                        }
                        assertTrue(any, name + " L=" + seqLen + " bs=" + layout.blockSize() + " head " + h + ": frame "
                                + f + " tile (" + qb + ", " + kb + ") holds no pair to compute");
                    }
                }
            }
            for (int i = 0; i < seqLen; i++) {
                for (int j = 0; j < seqLen; j++) {
                    int expected = layout.pattern().allows(h, i, j) ? 1 : 0;
                    assertEquals(expected, computed[i][j], name + " L=" + seqLen + " bs=" + layout.blockSize()
                            + " head " + h + " pair (" + i + ", " + j + ")");
                    pairCount[h] += expected;
                }
            }
        }
        LayoutStats stats = layout.stats();
        String at = name + " L=" + seqLen + " bs=" + layout.blockSize() + ": ";
        assertArrayEquals(tileCount, stats.tiles(), at + "tiles per head");
        assertArrayEquals(fullCount, stats.fullTiles(), at + "full tiles per head");
        assertArrayEquals(pairCount, stats.allowedPairs(), at + "allowed pairs per head");
        assertEquals(Arrays.stream(frameTiles).filter(t -> t > 0).count(), stats.framesWithTiles(), at + "frames");
    }

    /** A residue frame under `all` (or a window as long as the sequence) would hold only pairs that `all` already computes. */
    @Test
    void unionsWithAllComputeOnlyAllsTiles() {
        BlockLayout all = BlockLayout.of(Pattern.all(), 200, 8, 2);
        for (Pattern union : List.of(Pattern.union(Pattern.all(), Pattern.strided(16)),
                Pattern.union(Pattern.strided(5), Pattern.local(9), Pattern.all()),
                Pattern.union(Pattern.local(0), Pattern.strided(16)),
                // A window as long as the sequence allows every causal pair too.
                Pattern.union(Pattern.local(200), Pattern.strided(16)))) {
            BlockLayout layout = BlockLayout.of(union, 200, 8, 2);
            assertEquals(1, layout.frameCount(), union.describe());
            assertEquals(all.stats().totalTiles(), layout.stats().totalTiles(), union.describe());
            assertEquals(all.stats().totalAllowedPairs(), layout.stats().totalAllowedPairs(), union.describe());
            check(layout, union.describe());
        }
        // Per head: only the head with `all` drops its residue frame.
        Pattern mixed = Pattern.perHead(List.of(Pattern.union(Pattern.all(), Pattern.strided(16)),
                Pattern.union(Pattern.local(8), Pattern.strided(16))));
        BlockLayout layout = BlockLayout.of(mixed, 200, 8, 2);
        assertEquals(2, layout.frameCount());
        TileList tiles = new TileList();
        for (int qb = 0; qb < layout.grid(1).numBlocks(); qb++) {
            layout.keyBlocks(1, 0, qb, tiles);
            assertEquals(0, tiles.size(), "head 0, residue block " + qb);
        }
        check(layout, mixed.describe());
    }

    @Test
    void statsCountAllowedPairsExactly() {
        Pattern pattern = Pattern.union(Pattern.local(5), Pattern.strided(5));
        BlockLayout layout = BlockLayout.of(pattern, 37, 4, 2);
        long expected = 0;
        for (int h = 0; h < 2; h++) {
            for (int i = 0; i < 37; i++) {
                for (int j = 0; j < 37; j++) {
                    expected += pattern.allows(h, i, j) ? 1 : 0;
                }
            }
        }
        assertEquals(expected, layout.stats().totalAllowedPairs());
    }

    @Test
    void parseReadsUnionsAndPerHeadLists() {
        Pattern union = Patterns.parse("local+strided", 8, 4, 1, 1);
        assertTrue(union instanceof UnionPattern);
        assertEquals("local+strided", union.describe());
        Pattern mix = Patterns.parse("local,strided", 8, 4, 1, 1);
        assertTrue(mix.allows(1, 16, 8));
        assertFalse(mix.allows(0, 16, 8));
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> Patterns.parse("local+dense", 8, 4, 1, 1));
        assertTrue(e.getMessage().contains("'dense'"), e.getMessage());
    }
}
