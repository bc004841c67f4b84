#!/usr/bin/python3
"""PyTorch reference for bench/train-bench.sh.

Same network and recipe as ref_numpy.py: one epoch of 784-128-10 (ReLU
hidden, softmax + cross-entropy), plain SGD lr 0.1 with the batch-mean
gradient, He-normal init, a fresh shuffle per epoch, float32, pixels
converted uint8 -> /255 per batch. Prints one JSON line.

Threading. Debian's torch (1.13, BLAS_INFO=generic) does its GEMMs in the
system libblas.so.3, i.e. OpenBLAS (pthread flavour), whose thread count
comes from OPENBLAS_NUM_THREADS (--threads, default: number of CPUs). Its
own intra-op pool (OpenMP, torch.set_num_threads, --intra-op) only runs the
elementwise ops and reductions, which are small for this network.
torch.set_num_threads(1) and (2) were both measured on the 2-core bench
machine with OpenBLAS at 2 threads (median samples/s of 3 runs, batch
32/64/128/256): intra-op 1: 107k/112k/218k/263k; intra-op 2: 106k/51k/
61k/49k. The OpenMP threads and the OpenBLAS threads fight over the two
cores. So the default is 1 intra-op thread with OpenBLAS at 2 threads.

Modes:
  manual (default) - the fastest form: explicit forward/backward with fused
      addmm (bias + GEMM in the forward, and W -= lr * grad as one GEMM with
      beta=1 in the update), preallocated buffers and in-place elementwise
      ops, no autograd.
  --autograd - the idiomatic nn.Sequential + F.cross_entropy +
      torch.optim.SGD version, for comparison; slower because of the
      autograd and optimizer bookkeeping per step.
The timed region is the training loop only (shuffle, batch gather, uint8 ->
float conversion, forward, backward, update); loading the IDX files and one
untimed warm-up step on throwaway copies of the weights are not in it.
"""

import math
import sys
import time

import fmnist


def extra_args(p):
    p.add_argument("--intra-op", type=int, default=1,
                   help="torch.set_num_threads (default 1, see above)")
    p.add_argument("--autograd", action="store_true",
                   help="use nn.Module + autograd + optim.SGD instead")


def main():
    a = fmnist.parse_args("torch", extra_args)
    if a.intra_op < 1:
        sys.exit("--intra-op must be >= 1")
    fmnist.set_blas_threads(a.threads)   # before torch loads OpenBLAS
    import torch

    torch.set_num_threads(a.intra_op)
    torch.manual_seed(a.seed)
    images_np, labels_np = fmnist.load_train(a.data_dir)
    images = torch.from_numpy(images_np.copy())     # uint8 [n, 784]
    labels = torch.from_numpy(labels_np)            # int64 [n]
    n = images.shape[0]
    B = a.batch_size
    gen = torch.Generator().manual_seed(a.seed)

    run = train_autograd if a.autograd else train_manual
    seconds, loss_sum = run(torch, images, labels, n, B, gen)

    fmnist.emit(impl="torch", batch_size=B, threads=a.threads,
                intra_op=a.intra_op,
                mode="autograd" if a.autograd else "manual",
                samples_per_second=n / seconds, seconds=seconds,
                train_loss=loss_sum / n, torch=torch.__version__)
    return 0


def make_manual_step(torch, images, labels, B):
    """Return step(idx, W1, b1, W2, b2, loss_acc): one in-place SGD step on
    the samples idx, adding their summed cross-entropy loss to loss_acc."""
    f32 = torch.float32
    lr = fmnist.LEARNING_RATE
    nin, nh, nout = fmnist.N_IN, fmnist.N_HIDDEN, fmnist.N_OUT

    # Work buffers, allocated once and sized for a full batch; the last,
    # short batch uses views of them.
    ubuf = torch.empty(B, nin, dtype=torch.uint8)
    xbuf = torch.empty(B, nin, dtype=f32)
    hbuf = torch.empty(B, nh, dtype=f32)
    zbuf = torch.empty(B, nout, dtype=f32)
    dhbuf = torch.empty(B, nh, dtype=f32)
    ybuf = torch.empty(B, dtype=torch.int64)

    def step(idx, W1, b1, W2, b2, loss_acc):
        b = idx.shape[0]
        xu, x = ubuf[:b], xbuf[:b]
        h, z, dh = hbuf[:b], zbuf[:b], dhbuf[:b]
        y = ybuf[:b]
        torch.index_select(labels, 0, idx, out=y)
        y = y.unsqueeze(1)

        torch.index_select(images, 0, idx, out=xu)
        torch.div(xu, 255.0, out=x)

        # forward: h = relu(x W1 + b1), z = h W2 + b2
        torch.addmm(b1, x, W1, out=h)
        h.clamp_(min=0)
        torch.addmm(b2, h, W2, out=z)

        # softmax + cross-entropy, numerically stable
        z.sub_(z.amax(dim=1, keepdim=True))
        zy = z.gather(1, y)
        z.exp_()
        s = z.sum(dim=1, keepdim=True)
        loss_acc.add_(s.log().sum()).sub_(zy.sum())

        # dL/dz = (softmax - onehot) / b, pre-multiplied by lr
        scale = lr / b
        z.mul_(s.reciprocal_().mul_(scale))
        z.scatter_add_(1, y, torch.full((b, 1), -scale, dtype=f32))

        # backward (dh uses W2 before its update)
        torch.mm(z, W2.t(), out=dh)
        dh.mul_(h > 0)

        # SGD update, the GEMM accumulates straight into the weights
        W2.addmm_(h.t(), z, alpha=-1.0)
        b2.sub_(z.sum(dim=0))
        W1.addmm_(x.t(), dh, alpha=-1.0)
        b1.sub_(dh.sum(dim=0))

    return step


def train_manual(torch, images, labels, n, B, gen):
    f32 = torch.float32
    nin, nh, nout = fmnist.N_IN, fmnist.N_HIDDEN, fmnist.N_OUT

    W1 = torch.randn(nin, nh, generator=gen, dtype=f32)
    W1.mul_(math.sqrt(2.0 / nin))
    b1 = torch.zeros(nh, dtype=f32)
    W2 = torch.randn(nh, nout, generator=gen, dtype=f32)
    W2.mul_(math.sqrt(2.0 / nh))
    b2 = torch.zeros(nout, dtype=f32)

    step = make_manual_step(torch, images, labels, B)

    with torch.no_grad():
        scratch = torch.zeros((), dtype=torch.float64)
        step(torch.arange(min(B, n)), W1.clone(), b1.clone(), W2.clone(),
             b2.clone(), scratch)

        loss_acc = torch.zeros((), dtype=torch.float64)
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, B):
            step(perm[i:i + B], W1, b1, W2, b2, loss_acc)
        seconds = time.perf_counter() - t0
    return seconds, float(loss_acc)


def train_autograd(torch, images, labels, n, B, gen):
    import copy
    import torch.nn as nn
    import torch.nn.functional as F

    model = nn.Sequential(nn.Linear(fmnist.N_IN, fmnist.N_HIDDEN), nn.ReLU(),
                          nn.Linear(fmnist.N_HIDDEN, fmnist.N_OUT))
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.weight.normal_(0.0, math.sqrt(2.0 / m.in_features),
                                 generator=gen)
                m.bias.zero_()

    def make_step(model):
        opt = torch.optim.SGD(model.parameters(), lr=fmnist.LEARNING_RATE)

        def step(idx):
            x = images.index_select(0, idx).float().div_(255.0)
            y = labels.index_select(0, idx)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss.detach() * idx.shape[0]
        return step

    make_step(copy.deepcopy(model))(torch.arange(min(B, n)))

    step = make_step(model)
    loss_acc = torch.zeros((), dtype=torch.float64)
    t0 = time.perf_counter()
    perm = torch.randperm(n, generator=gen)
    for i in range(0, n, B):
        loss_acc += step(perm[i:i + B])
    seconds = time.perf_counter() - t0
    return seconds, float(loss_acc)


if __name__ == "__main__":
    sys.exit(main())
