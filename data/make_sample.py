#!/usr/bin/env python3
"""Makes the sample problem under data/sample: q, k, v of shape [2, 1000, 64], float32, standard normal.

Run from the repository root: python3 data/make_sample.py
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    folder = os.path.join(HERE, "sample")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(2019)
    for name in ("q", "k", "v"):
        np.save(os.path.join(folder, name + ".npy"), rng.standard_normal((2, 1000, 64)).astype(np.float32))


if __name__ == "__main__":
    main()
