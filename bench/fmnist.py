"""Shared helpers for the reference trainers in bench/: the Fashion-MNIST
IDX loader, the common command line and the one-line JSON result.

Only the Python standard library and numpy are used here; the caller decides
when numpy is imported (OpenBLAS reads OPENBLAS_NUM_THREADS at load time).
"""

import argparse
import gzip
import json
import os
import struct
import sys

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"

# The network every implementation in this benchmark trains.
N_IN, N_HIDDEN, N_OUT = 784, 128, 10
LEARNING_RATE = 0.1


def parse_args(impl, extra=None):
    p = argparse.ArgumentParser(
        description="%s reference: one epoch of 784-128-10 ReLU/softmax SGD "
                    "on Fashion-MNIST, one JSON line on stdout" % impl)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="OpenBLAS threads (default: number of CPUs)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data-dir", default=os.environ.get("FASHION_DIR",
                                                        DEFAULT_DIR))
    if extra:
        extra(p)
    a = p.parse_args()
    if a.batch_size < 1 or a.threads < 1:
        p.error("--batch-size and --threads must be >= 1")
    return a


def set_blas_threads(n):
    """Must run before numpy (or torch) is imported."""
    os.environ["OPENBLAS_NUM_THREADS"] = str(n)


def _read_idx(path, magic, ndim):
    with gzip.open(path, "rb") as f:
        data = f.read()
    got, = struct.unpack(">I", data[:4])
    if got != magic:
        raise ValueError("%s: bad IDX magic 0x%08x" % (path, got))
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def load_train(data_dir):
    """Return (images uint8 [n, 784], labels int64 [n]) as numpy arrays."""
    import numpy as np
    (n, rows, cols), px = _read_idx(
        os.path.join(data_dir, "train-images-idx3-ubyte.gz"), 0x803, 3)
    (nl,), lb = _read_idx(
        os.path.join(data_dir, "train-labels-idx1-ubyte.gz"), 0x801, 1)
    if n != nl or rows * cols != N_IN:
        raise ValueError("unexpected Fashion-MNIST shapes")
    images = np.frombuffer(px, dtype=np.uint8, count=n * N_IN).reshape(n, N_IN)
    labels = np.frombuffer(lb, dtype=np.uint8, count=n).astype(np.int64)
    return images, labels


def emit(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()
