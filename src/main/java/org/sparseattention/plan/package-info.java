/**
 * Planning a job without running it: settings and input shapes become a block layout, the layout
 * becomes work units (a batch item, a frame, a range of query blocks and, only for rows with
 * more key blocks than a chunk holds, one chunk of their keys), and units are grouped into
 * contiguous partitions balanced on estimated work (tiles, query rows, rows read and separate
 * reads: {@code Planner.cost}). Units depend on the layout and the size settings only, never
 * on the number of partitions, so the output is the same however the job is spread.
 */
package org.sparseattention.plan;
