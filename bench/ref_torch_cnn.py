#!/usr/bin/python3
"""PyTorch reference for bench/cnn-bench.sh: one epoch of the LeNet-like
network of the CNN benchmark, the same recipe as traind's run.

  conv 32 5x5 pad 2, ReLU, maxpool 2, conv 64 5x5 pad 2, ReLU, maxpool 2,
  flatten, dense 256, ReLU, dense 10, softmax + cross-entropy;
  SGD momentum 0.9, lr 0.01, batch 64, float32, a fresh shuffle, pixels
  converted uint8 -> /255 per batch.

Debian's torch runs the convolutions in oneDNN (its OpenMP pool,
torch.set_num_threads) and the dense layers in OpenBLAS
(OPENBLAS_NUM_THREADS); --threads sets both. The timed region is the
training loop only; one untimed warm-up step on a copy of the model comes
first. Prints one JSON line.
"""

import argparse
import copy
import os
import time

import fmnist


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", required=True, help="IDX files (train-*.gz)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if a.batch_size < 1 or a.threads < 1:
        p.error("--batch-size and --threads must be >= 1")
    fmnist.set_blas_threads(a.threads)   # before torch loads OpenBLAS
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    images_np, labels_np = fmnist.load_train(a.data_dir)
    images = torch.from_numpy(images_np.copy())
    labels = torch.from_numpy(labels_np)
    n, B = images.shape[0], a.batch_size
    model = nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 256), nn.ReLU(), nn.Linear(256, 10))

    def step(m, opt, idx):
        xb = images[idx].float().div_(255).view(-1, 1, 28, 28)
        loss = F.cross_entropy(m(xb), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    warm = copy.deepcopy(model)
    step(warm, torch.optim.SGD(warm.parameters(), lr=0.01, momentum=0.9),
         torch.arange(B))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    t0 = time.perf_counter()
    perm = torch.randperm(n)
    total = 0.0
    for s in range(0, n, B):
        total += float(step(model, opt, perm[s:s + B]))
    dt = time.perf_counter() - t0
    fmnist.emit(impl="torch", threads=a.threads, batch_size=B, samples=n,
                seconds=round(dt, 3), samples_per_second=round(n / dt, 1),
                mean_loss=round(total / ((n + B - 1) // B), 4),
                onednn=bool(torch.backends.mkldnn.is_available()))


if __name__ == "__main__":
    main()
