#!/usr/bin/env bash
# CNN benchmark: one epoch of the LeNet-like net (conv32 5x5 pad 2, pool 2,
# conv64 5x5 pad 2, pool 2, dense 256, ReLU; SGD momentum 0.9, lr 0.01,
# batch 64) in traind with 1 and 2 workers against the same network in
# PyTorch (bench/ref_torch_cnn.py) with 1 and 2 threads, interleaved, median
# of --rounds; prints the CPU, its ISA, the OpenBLAS kernels, samples/s and
# each run's % of the dense FP32 limit (the best sgemm GFLOP/s of 15 runs on
# 2 threads / FLOPs of one training sample), and the CPU seconds (user +
# system) of each run's whole process, median: on a shared machine they
# grow less than the wall clock when other work takes the cores (busy
# waits count, in both programs).
#
#   bench/cnn-bench.sh [--rounds N]
#
# Environment: TRAIND (default ./traind at the repo root), DATASET (digits,
# the default: the 8,000 digits in data/digits; or fashion: 60,000 images
# from FASHION_DIR, default /usr/share/datasets/fashion-mnist), RUN_TIMEOUT
# (seconds per run, default 1800), OPENBLAS_CORETYPE (see below).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
PY=/usr/bin/python3
rounds=3
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) [ $# -ge 2 ] || { echo "cnn-bench: --rounds wants a number" >&2; exit 2; }
              rounds=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cnn-bench: unknown argument: $1" >&2; exit 2 ;;
    esac
done
case $rounds in ''|*[!0-9]*|0) echo "cnn-bench: --rounds wants a positive integer" >&2; exit 2 ;; esac
TRAIND=${TRAIND:-$root/traind}
DATASET=${DATASET:-digits}
case $DATASET in
digits) DATA_DIR=$root/data/digits; src_args=(--data-dir "$root/data" --dataset digits) ;;
fashion) DATA_DIR=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
         src_args=(--fashion-dir "$DATA_DIR" --dataset fashion) ;;
*) echo "cnn-bench: DATASET must be digits or fashion" >&2; exit 2 ;;
esac
RUN_TIMEOUT=${RUN_TIMEOUT:-1800}
[ -x "$TRAIND" ] || { echo "cnn-bench: no traind at $TRAIND (build first)" >&2; exit 2; }
[ -f "$DATA_DIR/train-images-idx3-ubyte.gz" ] || { echo "cnn-bench: no IDX files in $DATA_DIR" >&2; exit 2; }

flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
isa=""
for f in sse4_2 avx avx2 fma avx512f avx512_vnni; do
    case " $flags " in *" $f "*) isa="$isa $f" ;; esac
done
# OpenBLAS picks its kernels from the CPU model; on a VM that reports a
# generic model it falls back to Prescott (SSE3) kernels, 2-4x slower. Both
# traind and PyTorch's dense layers use the same OpenBLAS, so the bench sets
# the core its ISA supports unless OPENBLAS_CORETYPE is given.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    case " $isa " in
    *" avx512f "*) export OPENBLAS_CORETYPE=SkylakeX ;;
    *" avx2 "*) export OPENBLAS_CORETYPE=Haswell ;;
    esac
fi
core=$(OPENBLAS_VERBOSE=2 "$PY" -c "import numpy" 2>&1 | sed -n 's/^Core: //p' | head -1)
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
echo "data: $DATASET ($DATA_DIR), one epoch, batch 64"
echo "ISA:$isa; OpenBLAS kernels: ${core:-unknown} (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset})"
"$PY" -c "import torch" 2>/dev/null && have_torch=1 || { have_torch=0; echo "PyTorch: not installed (apt-get install -y python3-torch); traind only"; }

LAYERS='[{"type":"conv","filters":32,"kernel":5,"padding":2},{"type":"maxpool","size":2},{"type":"conv","filters":64,"kernel":5,"padding":2},{"type":"maxpool","size":2},{"type":"dense","units":256}]'
# multiply-adds x 2 of one forward pass; a training sample costs 3 of them
# (forward, input gradient, weight gradient)
train_flops=$("$PY" -c "print(3 * 2 * (25*32*784 + 800*64*196 + 3136*256 + 256*10))")
gflops=$(OPENBLAS_NUM_THREADS=2 "$PY" - <<'PY'
import time, numpy as np
a = np.random.rand(2048, 2048).astype(np.float32); b = a.copy(); a @ b
runs = []
for _ in range(15):
    t = time.perf_counter(); a @ b; runs.append(time.perf_counter() - t)
# the fastest: what the machine can do when it is not shared at that instant
print("%.1f" % (2 * 2048 ** 3 / min(runs) / 1e9))
PY
)
limit=$("$PY" -c "print('%.0f' % ($gflops * 1e9 / $train_flops))")
echo "dense FP32 limit: sgemm $gflops GFLOP/s on 2 threads / $((train_flops / 1000000)) MFLOP per training sample = $limit samples/s"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cpu_of() { # command...: runs it, its CPU seconds (user + system) to $tmp/cpu
    "$PY" -c '
import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write("%.2f\n" % (r.ru_utime + r.ru_stime))
sys.exit(rc)' "$tmp/cpu" "$@"
}
run_traind() { # workers
    OPENBLAS_NUM_THREADS=1 cpu_of timeout "$RUN_TIMEOUT" "$TRAIND" train "${src_args[@]}" \
        --layers "$LAYERS" --optimizer momentum --momentum 0.9 \
        --learning-rate 0.01 --l2 0 --batch-size 64 --epochs 1 --augment none --workers "$1" --json \
        | "$PY" -c "import json,sys; print([json.loads(l) for l in sys.stdin][0]['samples_per_second'])"
}
run_torch() { # threads
    cpu_of timeout "$RUN_TIMEOUT" "$PY" "$here/ref_torch_cnn.py" --data-dir "$DATA_DIR" --threads "$1" \
        | "$PY" -c "import json,sys; print(json.loads(sys.stdin.readline())['samples_per_second'])"
}
configs=("traind 1" "traind 2")
[ "$have_torch" = 1 ] && configs+=("torch 1" "torch 2")
for r in $(seq "$rounds"); do
    for c in "${configs[@]}"; do
        set -- $c
        v=$(run_$1 "$2")
        echo "$v" >> "$tmp/$1-$2"
        cat "$tmp/cpu" >> "$tmp/$1-$2.cpu"
        echo "  round $r: $1 ${2} $( [ "$1" = traind ] && echo workers || echo threads ): $v samples/s, $(cat "$tmp/cpu") CPU s" >&2
    done
done
median() { sort -g "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
best_torch=0
if [ "$have_torch" = 1 ]; then
    best_torch=$(printf '%s\n' "$(median "$tmp/torch-1")" "$(median "$tmp/torch-2")" | sort -g | tail -1)
fi
printf '\n%-22s %12s %10s %12s %8s\n' "run (median of $rounds)" "samples/s" "% limit" "x torch best" "CPU s"
for c in "${configs[@]}"; do
    set -- $c
    m=$(median "$tmp/$1-$2")
    label="$1 $2 $( [ "$1" = traind ] && echo workers || echo threads )"
    printf '%-22s %12.0f %9.1f%% %12s %8s\n' "$label" "$m" "$("$PY" -c "print(100 * $m / $limit)")" \
        "$( [ "$best_torch" != 0 ] && "$PY" -c "print('%.2f' % ($m / $best_torch))" || echo -)" \
        "$(median "$tmp/$1-$2.cpu")"
done
w1=$(median "$tmp/traind-1"); w2=$(median "$tmp/traind-2")
echo "traind 1 -> 2 workers: $("$PY" -c "print('%.2fx' % ($w2 / $w1))")"
