#!/usr/bin/python3
"""sgemm n^3 through numpy's OpenBLAS: the best of REPEATS, in GFLOP/s, as
one JSON line. The threads are OpenBLAS's own (OPENBLAS_NUM_THREADS, which
must be set before the process starts). bench/train-bench.sh runs it for
the dense FP32 limit and, in every round, on one thread and on all the
cores: the machine's own scaling in the same minutes as traind's.

  OPENBLAS_NUM_THREADS=1 bench/sgemm.py [N] [REPEATS]
"""
import json
import os
import sys
import time

import numpy as np

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
a = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
b = a.T.copy()
c = np.empty_like(a)
np.matmul(a, b, out=c)  # warm: the threads started, the pages touched
best = float("inf")
for _ in range(repeats):
    t0 = time.perf_counter()
    np.matmul(a, b, out=c)
    best = min(best, time.perf_counter() - t0)
print(json.dumps({"gflops": round(2.0 * n ** 3 / best / 1e9, 2), "n": n,
                  "threads": os.environ.get("OPENBLAS_NUM_THREADS", "")}))
