#!/usr/bin/env python3
"""numpy (OpenBLAS) f32 matmul GFLOP/s at the sizes of accelbench's matmul-f32 `full` set.

The yardstick for `native-cpu`: run it right before or after
`accelbench native --full --kernels matmul-f32 --backends cpu` on the same machine and compare.
Same protocol as accelbench's host-timed backends: warm-up, then the median of repeated runs.
"""
import statistics
import sys
import time

import numpy as np

SIZES = [(1024, 1024, 1024, 1), (2048, 2048, 2048, 1), (512, 512, 512, 1), (512, 512, 512, 4), (512, 512, 512, 16)]

def main() -> None:
    rng = np.random.default_rng(1)
    cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    print(f"numpy {np.__version__}, BLAS {cfg.get('name')} {cfg.get('version', '')}")
    for m, n, k, b in SIZES:
        a = rng.uniform(-1, 1, (b, m, k)).astype(np.float32)
        bb = rng.uniform(-1, 1, (b, k, n)).astype(np.float32)
        np.matmul(a, bb)
        times = []
        deadline = time.perf_counter() + 3.0
        while len(times) < 5 or (time.perf_counter() < deadline and len(times) < 200):
            t0 = time.perf_counter()
            np.matmul(a, bb)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(f"matmul {m}x{n}x{k} batch {b}: median {med * 1e3:.3f} ms, {2 * m * n * k * b / med / 1e9:.2f} GFLOP/s (n={len(times)})")

if __name__ == "__main__":
    sys.exit(main())
