#!/usr/bin/python3
"""numpy reference for bench/train-bench.sh.

One epoch of 784-128-10 (ReLU hidden, softmax + cross-entropy) trained with
plain SGD, lr 0.1, gradient = mean over the batch, He-normal init, a fresh
shuffle per epoch, float32 throughout, pixels converted uint8 -> /255 per
batch. Prints one JSON line.

Efficiency notes (this is the competition, so it gets its best shot):
  * every GEMM goes to OpenBLAS through np.matmul with a preallocated out=
    (transposes are views, no copies);
  * all per-batch buffers are allocated once; the last, short batch uses
    views of them;
  * lr/B is folded into the softmax gradient once, so the weight gradients
    come out of the GEMMs already scaled and the update is a single in-place
    subtraction;
  * the timed region is the training loop only (shuffle, batch gather,
    uint8 -> float conversion, forward, backward, update); loading and
    decompressing the IDX files and one untimed warm-up step are not in it.
"""

import sys
import time

import fmnist


def make_step(np, images, labels, B):
    """Return step(idx, W1, b1, W2, b2): one in-place SGD step on the
    samples idx, returning their summed cross-entropy loss."""
    f32 = np.float32
    lr = f32(fmnist.LEARNING_RATE)

    # Work buffers, allocated once and sized for a full batch; the last,
    # short batch uses views of them.
    ubuf = np.empty((B, fmnist.N_IN), dtype=np.uint8)
    xbuf = np.empty((B, fmnist.N_IN), dtype=f32)
    hbuf = np.empty((B, fmnist.N_HIDDEN), dtype=f32)
    zbuf = np.empty((B, fmnist.N_OUT), dtype=f32)
    dhbuf = np.empty((B, fmnist.N_HIDDEN), dtype=f32)
    gW1 = np.empty((fmnist.N_IN, fmnist.N_HIDDEN), dtype=f32)
    gW2 = np.empty((fmnist.N_HIDDEN, fmnist.N_OUT), dtype=f32)
    rows = np.arange(B)
    f255 = f32(255.0)

    def step(idx, W1, b1, W2, b2):
        """One SGD step on the samples idx; returns the summed batch loss."""
        b = idx.shape[0]
        xu, x = ubuf[:b], xbuf[:b]
        h, z, dh = hbuf[:b], zbuf[:b], dhbuf[:b]
        r = rows[:b]
        y = labels[idx]

        np.take(images, idx, axis=0, out=xu)
        np.divide(xu, f255, out=x)

        # forward
        np.matmul(x, W1, out=h)
        h += b1
        np.maximum(h, f32(0), out=h)
        np.matmul(h, W2, out=z)
        z += b2

        # softmax + cross-entropy, numerically stable
        z -= z.max(axis=1, keepdims=True)
        zy = z[r, y]
        np.exp(z, out=z)
        s = z.sum(axis=1, keepdims=True)
        loss = float(np.log(s).sum(dtype=np.float64) - zy.sum(dtype=np.float64))

        # dL/dz = (softmax - onehot) / b, pre-multiplied by lr
        scale = lr / f32(b)
        z *= scale / s
        z[r, y] -= scale

        # backward (dh uses W2 before its update)
        np.matmul(z, W2.T, out=dh)
        np.multiply(dh, h > 0, out=dh)

        # SGD update
        np.matmul(h.T, z, out=gW2)
        W2 -= gW2
        b2 -= z.sum(axis=0)
        np.matmul(x.T, dh, out=gW1)
        W1 -= gW1
        b1 -= dh.sum(axis=0)
        return loss

    return step


def main():
    a = fmnist.parse_args("numpy")
    fmnist.set_blas_threads(a.threads)   # before numpy loads OpenBLAS
    import numpy as np

    images, labels = fmnist.load_train(a.data_dir)
    n = images.shape[0]
    B = a.batch_size
    f32 = np.float32

    rng = np.random.default_rng(a.seed)
    W1 = rng.standard_normal((fmnist.N_IN, fmnist.N_HIDDEN), dtype=f32)
    W1 *= f32(np.sqrt(2.0 / fmnist.N_IN))
    b1 = np.zeros(fmnist.N_HIDDEN, dtype=f32)
    W2 = rng.standard_normal((fmnist.N_HIDDEN, fmnist.N_OUT), dtype=f32)
    W2 *= f32(np.sqrt(2.0 / fmnist.N_HIDDEN))
    b2 = np.zeros(fmnist.N_OUT, dtype=f32)

    step = make_step(np, images, labels, B)

    # Untimed warm-up on throwaway copies: OpenBLAS starts its threads here.
    step(np.arange(min(B, n)), W1.copy(), b1.copy(), W2.copy(), b2.copy())

    t0 = time.perf_counter()
    perm = rng.permutation(n)
    loss_sum = 0.0
    for i in range(0, n, B):
        loss_sum += step(perm[i:i + B], W1, b1, W2, b2)
    seconds = time.perf_counter() - t0

    fmnist.emit(impl="numpy", batch_size=B, threads=a.threads,
                samples_per_second=n / seconds, seconds=seconds,
                train_loss=loss_sum / n, numpy=np.__version__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
