#!/usr/bin/env python3
"""Makes the golden fixtures under data/golden: q, k, v and float64 reference outputs.

An implementation independent of the Java code: NumPy masks written from the rules in README.md, dense
float64 softmax. Run from the repository root: python3 data/make_golden.py
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

CASES = [
    # name, mode, seq_len, block_size, heads, head_dim, local_attn_ctx, num_verts, vertsize
    ("all_L17", "all", 17, 4, 2, 3, 0, 1, 1),
    ("local_L37", "local", 37, 8, 1, 8, 10, 1, 1),
    ("strided_L50", "strided", 50, 16, 3, 2, 7, 1, 1),
    ("local_strided_L64", "local+strided", 64, 8, 2, 4, 8, 1, 1),
    ("fixed_L40", "fixed", 40, 4, 2, 5, 16, 2, 2),
    ("perhead_L30", "local,strided", 30, 5, 2, 4, 6, 1, 1),
    # fixed in a mix takes r from the global head index: heads 1 and 3 read one column.
    ("perhead_fixed_L64", "local,fixed", 64, 4, 4, 4, 16, 2, 1),
    ("fixed_strided_L65", "fixed+strided", 65, 4, 4, 3, 16, 2, 2),
    ("all_strided_L23", "all+strided", 23, 4, 2, 3, 5, 1, 1),
    ("local_wide_L20", "local", 20, 8, 2, 3, 32, 1, 1),
    ("local_L1", "local", 1, 4, 1, 3, 4, 1, 1),
    # contexts of one position and longer than the sequence
    ("local_one_L30", "local", 30, 4, 2, 3, 1, 1, 1),
    ("strided_one_L30", "strided", 30, 4, 2, 3, 1, 1, 1),
    ("strided_wide_L50", "strided", 50, 8, 2, 3, 64, 1, 1),
    ("local_strided_wide_L40", "local+strided", 40, 8, 2, 3, 64, 1, 1),
    # fixed with every column of a window a summary column, and with the heads' columns filling it
    ("fixed_all_columns_L48", "fixed", 48, 4, 2, 3, 16, 1, 4),
    ("fixed_filled_L48", "fixed", 48, 4, 2, 3, 16, 2, 2),
    # local and fixed in one head; fixed with columns left between the heads' summary columns
    ("local_fixed_L50", "local+fixed", 50, 4, 2, 3, 16, 2, 1),
    ("fixed_sparse_columns_L70", "fixed", 70, 4, 4, 3, 32, 2, 2),
]


def mask(name, n, head, ctx, bs, num_verts, vertsize):
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    causal = j <= i
    if name == "all":
        return causal
    if name == "local":
        return causal if ctx <= 0 else causal & (i - j < ctx)
    if name == "strided":
        return causal & ((i - j) % ctx == 0)
    if name == "fixed":
        per_window = ctx // bs
        r = head % num_verts
        summary = [per_window - 1 - r * vertsize - m for m in range(vertsize)]
        same_window = (j // ctx) == (i // ctx)
        column = (j % ctx) // bs
        return causal & (same_window | np.isin(column, summary))
    raise ValueError(name)


def pattern_mask(mode, n, head, *args):
    items = mode.split(",")
    union = items[head % len(items)].split("+")
    out = np.zeros((n, n), dtype=bool)
    for name in union:
        out |= mask(name, n, head, *args)
    return out


def main():
    rng = np.random.default_rng(20190423)
    for name, mode, n, bs, heads, d, ctx, num_verts, vertsize in CASES:
        folder = os.path.join(HERE, "golden", name)
        os.makedirs(folder, exist_ok=True)
        batch = 2
        q, k, v = (rng.standard_normal((batch, n, heads * d)).astype(np.float32) for _ in range(3))
        out = np.zeros((batch, n, heads * d))
        lse = np.zeros((batch, heads, n))
        for b in range(batch):
            for h in range(heads):
                sl = slice(h * d, (h + 1) * d)
                s = q[b, :, sl].astype(np.float64) @ k[b, :, sl].astype(np.float64).T / np.sqrt(d)
                allowed = pattern_mask(mode, n, h, ctx, bs, num_verts, vertsize)
                s = np.where(allowed, s, -np.inf)
                m = s.max(axis=1, keepdims=True)
                row_lse = m + np.log(np.exp(s - m).sum(axis=1, keepdims=True))
                p = np.exp(s - row_lse)
                out[b, :, sl] = p @ v[b, :, sl].astype(np.float64)
                lse[b, h] = row_lse[:, 0]
        for key, array in (("q", q), ("k", k), ("v", v), ("out", out), ("lse", lse)):
            np.save(os.path.join(folder, key + ".npy"), array)
        with open(os.path.join(folder, "params.properties"), "w") as f:
            f.write(f"mode={mode}\nseq_len={n}\nblock_size={bs}\nheads={heads}\nhead_dim={d}\n"
                    f"local_attn_ctx={ctx}\nnum_verts={num_verts}\nvertsize={vertsize}\n")


if __name__ == "__main__":
    main()
