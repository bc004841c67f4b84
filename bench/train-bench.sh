#!/usr/bin/env bash
# Training benchmark: traind (1 and 2 workers) against numpy and PyTorch
# training the same 784-128-10 network on Fashion-MNIST on this machine,
# interleaved, median of --rounds; plus traind at 2 workers on every
# instruction-set tier the CPU has (TRAIND_ISA) with the first layer auto,
# sparse and dense (TRAIND_FIRST_LAYER), and the machine's dense FP32 limit
# (sgemm). See bench/README.md.
#
#   bench/train-bench.sh [--rounds N] [--quick]
#
# Environment: TRAIND (default ./traind at the repo root), FASHION_DIR
# (default /usr/share/datasets/fashion-mnist; when set, it is also passed to
# traind as --fashion-dir), RUN_TIMEOUT (seconds per run, default 900),
# REF_THREADS (OpenBLAS threads for numpy and torch, default nproc),
# BLAS_CORE (OPENBLAS_CORETYPE for every run: auto (default), default, or a
# core name), TIERS (the tiers to force, default: all the CPU has).
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: bench/train-bench.sh [--rounds N] [--quick]

  --rounds N   interleaved rounds per configuration, median reported (default 3)
  --quick      1 round, batch sizes 64 and 256 only (an explicit --rounds wins)

Compares, per batch size (32 64 128 256), the training samples/s of
  traind --workers 1, traind --workers 2, numpy (bench/ref_numpy.py) and
  PyTorch (bench/ref_torch.py)
on one epoch of the 60k Fashion-MNIST training set, 784-128-10, SGD lr 0.1;
and traind --workers 2 per instruction-set tier (TRAIND_ISA) and first-layer
path (TRAIND_FIRST_LAYER=auto|sparse|dense). Measures the dense FP32 limit
(sgemm 2048^3 GFLOP/s x cores / FLOP per sample), and in every round sgemm
on one thread and on all the cores: the machine's own scaling, beside
traind's 2w/1w (on a shared VM a second core is not always a whole one).
Prints tables and writes bench/out/train-bench.json.

Environment: TRAIND=path/to/traind (default: ./traind at the repo root),
FASHION_DIR=dir (default /usr/share/datasets/fashion-mnist),
RUN_TIMEOUT=seconds per run (default 900),
REF_THREADS=OpenBLAS threads for numpy and torch (default: nproc),
BLAS_CORE=auto|default|NAME: OPENBLAS_CORETYPE for every run; auto (default)
  sets the best core for the CPU's ISA when OpenBLAS picked a weaker one,
TIERS="avx512 avx2 generic": the tiers to force (default: all the CPU has).
USAGE
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
PY=/usr/bin/python3            # Debian's python, where apt puts numpy/torch
rounds=3
rounds_set=0
quick=0

while [ $# -gt 0 ]; do
    case $1 in
    --rounds) [ $# -ge 2 ] || { usage >&2; exit 2; }
              rounds=$2; rounds_set=1; shift 2 ;;
    --rounds=*) rounds=${1#--rounds=}; rounds_set=1; shift ;;
    --quick) quick=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "train-bench: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
case $rounds in
''|*[!0-9]*|0) echo "train-bench: --rounds wants a positive integer" >&2; exit 2 ;;
esac

batches=(32 64 128 256)
if [ "$quick" = 1 ]; then
    batches=(64 256)
    [ "$rounds_set" = 1 ] || rounds=1
fi

default_fashion=/usr/share/datasets/fashion-mnist
fashion_dir=${FASHION_DIR:-$default_fashion}
traind=${TRAIND:-$root/traind}
run_timeout=${RUN_TIMEOUT:-900}
nproc=$(nproc)
ref_threads=${REF_THREADS:-$nproc}     # OpenBLAS threads for numpy and torch
out_dir=$here/out
out_json=$out_dir/train-bench.json

log() { printf '%s\n' "$*" >&2; }
die() { log "train-bench: $*"; exit 1; }
case $ref_threads in
''|*[!0-9]*|0) die "REF_THREADS wants a positive integer" ;;
esac

# ---- traind first: no point installing anything without it ---------------
[ -x "$traind" ] || die "no traind binary at $traind: build it at the repo root (autoreconf -fi && ./configure && make) or set TRAIND=path"
case $traind in /*) ;; *) traind=$PWD/$traind ;; esac

# ---- what the bench needs, installed only when missing -------------------
apt_install() {
    log "train-bench: installing $* (apt-get)"
    if [ "$(id -u)" != 0 ]; then
        die "need root to install: apt-get install -y $*"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2 ||
        { DEBIAN_FRONTEND=noninteractive apt-get update >&2 &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2; } ||
        die "apt-get install -y $* failed"
}

need=()
[ -x "$PY" ] || need+=(python3)
if [ -x "$PY" ]; then
    "$PY" -c 'import numpy' 2>/dev/null || need+=(python3-numpy)
    "$PY" -c 'import torch' 2>/dev/null || need+=(python3-torch)
else
    need+=(python3-numpy python3-torch)
fi
if [ ! -f "$fashion_dir/train-images-idx3-ubyte.gz" ]; then
    [ "$fashion_dir" = "$default_fashion" ] ||
        die "no train-images-idx3-ubyte.gz in FASHION_DIR=$fashion_dir"
    need+=(dataset-fashion-mnist)
fi
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
command -v timeout >/dev/null || die "needs timeout (coreutils)"

# ---- the four configurations ------------------------------------------------
# The references' network exactly: no L2, no augmentation, He init.
traind_args=(train --dataset fashion --hidden 128 --activation relu
             --output softmax --loss cross_entropy --optimizer sgd
             --learning-rate 0.1 --l2 0 --augment none --init he
             --epochs 1 --seed 1 --json)
ref_args=()
if [ -n "${FASHION_DIR:-}" ]; then
    traind_args+=(--fashion-dir "$fashion_dir")
    ref_args+=(--data-dir "$fashion_dir")
fi
configs=(traind_1w traind_2w numpy torch)

# ---- the CPU's tiers and the BLAS core ---------------------------------------
# The tiers traind can run here (isa.h): from the CPU's flags, as traind's
# own cpuid check sees them.
cpu_flags=$(sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
has_flag() { case " $cpu_flags " in *" $1 "*) return 0 ;; esac; return 1; }
cpu_tiers=()
if has_flag avx512f && has_flag avx512bw && has_flag avx512dq && has_flag avx512vl; then
    cpu_tiers+=(avx512)
fi
if has_flag avx2 && has_flag fma; then cpu_tiers+=(avx2); fi
cpu_tiers+=(generic)
isa_flags=
for f in sse4_2 avx fma avx2 avx512f avx512bw avx512dq avx512vl; do
    has_flag "$f" && isa_flags+="$f "
done
isa_flags=${isa_flags% }
tiers=(${TIERS:-${cpu_tiers[*]}})
for t in "${tiers[@]}"; do
    case " ${cpu_tiers[*]} " in *" $t "*) ;; *) die "TIERS: this CPU has no $t tier (it has ${cpu_tiers[*]})" ;; esac
done
# OpenBLAS picks its kernels from its own CPU table; one older than the CPU
# runs a baseline core (0.3.21 runs Prescott's SSE3 kernels on Emerald
# Rapids), which would slow the references and traind's GEMMs alike. auto
# sets the core for the CPU's ISA when OpenBLAS picked a weaker one, for
# every run, and says so.
blas_detected=$(OPENBLAS_NUM_THREADS=1 "$PY" - <<'PYEOF' 2>/dev/null || echo unknown
import ctypes, ctypes.util
for n in ("openblas", "blas"):
    lib = ctypes.util.find_library(n)
    if not lib:
        continue
    try:
        h = ctypes.CDLL(lib); h.openblas_get_corename.restype = ctypes.c_char_p
        print(h.openblas_get_corename().decode().strip()); break
    except (OSError, AttributeError):
        continue
else:
    print("unknown")
PYEOF
)
core_for_tier() {
    case $1 in avx512) echo SkylakeX ;; avx2) echo Haswell ;; *) echo "" ;; esac
}
blas_core=${BLAS_CORE:-auto}
case $blas_core in
auto)
    want=$(core_for_tier "${cpu_tiers[0]}")
    case $(printf '%s' "$blas_detected" | tr 'A-Z' 'a-z') in
    *skylakex*|*cooperlake*|*sapphirerapids*) want= ;;            # already AVX-512
    *haswell*|*zen*) [ "${cpu_tiers[0]}" = avx512 ] || want= ;;    # AVX2 on an AVX2 CPU
    esac
    blas_core=$want ;;
default) blas_core= ;;
esac
if [ -n "$blas_core" ]; then
    export OPENBLAS_CORETYPE=$blas_core
else
    unset OPENBLAS_CORETYPE
fi
for t in "${tiers[@]}"; do
    for path in auto sparse dense; do configs+=("tier_${t}_${path}"); done
done
# On an AVX-512 CPU the avx2 tier stands in for an AVX2-only CPU; there the
# references would run without AVX-512 too, so they run once more so
# restricted (numpy_avx2, torch_avx2) for the avx2 rows to be compared with.
case " ${tiers[*]} " in
*" avx2 "*) [ "${cpu_tiers[0]}" = avx512 ] && configs+=(numpy_avx2 torch_avx2) ;;
esac
configs+=(sgemm_1t sgemm_all)

# run_config CONFIG BATCH OUTFILE: one epoch, its stdout into OUTFILE.
# traind is run with the OpenBLAS/OpenMP thread variables unset, so its own
# threading policy applies; the references get OpenBLAS at REF_THREADS
# threads (default nproc: the same cores traind gets with 2 workers; torch
# also gets 1 intra-op thread, its fastest setting, see ref_torch.py).
run_config() {
    local cfg=$1 b=$2 out=$3 w
    case $cfg in
    traind_1w|traind_2w)
        w=${cfg#traind_}
        env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS -u GOTO_NUM_THREADS \
            -u TRAIND_ISA -u TRAIND_FIRST_LAYER \
            timeout "$run_timeout" "$traind" "${traind_args[@]}" \
            --batch-size "$b" --workers "${w%w}" ;;
    tier_*)
        # 2 workers, the tier and first-layer path forced. The avx2 tier on
        # an AVX-512 CPU stands in for an AVX2-only CPU, so its BLAS runs
        # the AVX2 (Haswell) kernels too.
        local rest=${cfg#tier_} tier path core
        tier=${rest%_*}; path=${rest##*_}; core=${OPENBLAS_CORETYPE:-}
        if [ "$tier" = avx2 ] && [ "${cpu_tiers[0]}" = avx512 ]; then core=Haswell; fi
        env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS -u GOTO_NUM_THREADS \
            ${core:+OPENBLAS_CORETYPE=$core} TRAIND_ISA=$tier TRAIND_FIRST_LAYER=$path \
            timeout "$run_timeout" "$traind" "${traind_args[@]}" \
            --batch-size "$b" --workers 2 ;;
    numpy)
        timeout "$run_timeout" "$PY" "$here/ref_numpy.py" \
            --batch-size "$b" --threads "$ref_threads" "${ref_args[@]}" ;;
    torch)
        timeout "$run_timeout" "$PY" "$here/ref_torch.py" \
            --batch-size "$b" --threads "$ref_threads" --intra-op 1 "${ref_args[@]}" ;;
    numpy_avx2|torch_avx2)
        # As on an AVX2-only CPU: OpenBLAS's Haswell kernels, numpy's
        # AVX-512 loops off, and torch's kernels and oneDNN held to AVX2.
        local extra=()
        [ "$cfg" = torch_avx2 ] && extra=(--intra-op 1)
        env OPENBLAS_CORETYPE=Haswell \
            NPY_DISABLE_CPU_FEATURES="AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL" \
            ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2 \
            timeout "$run_timeout" "$PY" "$here/ref_${cfg%_avx2}.py" \
            --batch-size "$b" --threads "$ref_threads" \
            "${extra[@]}" "${ref_args[@]}" ;;
    sgemm_1t|sgemm_all)
        # The machine's own 1 -> all-cores scaling in this round (GFLOP/s).
        [ "$cfg" = sgemm_1t ] && w=1 || w=$nproc
        OPENBLAS_NUM_THREADS=$w timeout "$run_timeout" "$PY" "$here/sgemm.py" 2048 3 ;;
    esac >"$out" 2>"$out.err"
}

mkdir -p "$out_dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/train-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
raw=$work/raw.tsv
printf 'round\tbatch_size\tconfig\tstatus\tsamples_per_second\tseconds\ttrain_loss\tpath\tsteal_pct\n' >"$raw"

# cpu_ticks: all the CPUs' jiffies and the steal among them (/proc/stat),
# "total steal". On a VM, steal is the time the hypervisor gave this
# guest's runnable vCPUs to other guests: a run with steal ran on less
# than whole cores, and its figure is low for that reason, not traind's.
cpu_ticks() {
    local _c u n s i io irq sirq st
    read -r _c u n s i io irq sirq st _ </proc/stat || { echo "0 0"; return; }
    echo "$((u + n + s + i + io + irq + sirq + st)) $st"
}
# steal_pct "TOTAL0 STEAL0" "TOTAL1 STEAL1": steal as a % of the CPU time.
steal_pct() {
    awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
        t = y[1] - x[1]; printf "%.1f", (t > 0 ? 100 * (y[2] - x[2]) / t : 0) }'
}

# ---- machine and versions ---------------------------------------------------
# Only a clean exit counts: a binary without --version may print its usage.
if traind_version=$(timeout 10 "$traind" --version 2>/dev/null </dev/null); then
    traind_version=${traind_version%%$'\n'*}
else
    traind_version=
fi
pkgs=$(dpkg-query -W -f '${Package}=${Version} ' python3-numpy python3-torch \
       libopenblas0-pthread dataset-fashion-mnist 2>/dev/null || true)
settings="traind: --workers 1|2, OpenBLAS thread env unset; numpy: OPENBLAS_NUM_THREADS=$ref_threads; torch: set_num_threads(1), OPENBLAS_NUM_THREADS=$ref_threads; OPENBLAS_CORETYPE=${blas_core:-unset} (OpenBLAS picked ${blas_detected})"
# ---- the dense FP32 limit: sgemm 2048^3 on one core, best of 3 -------------
log "train-bench: measuring sgemm 2048^3 (1 thread) for the dense FP32 limit"
sgemm_gflops=$(OPENBLAS_NUM_THREADS=1 "$PY" "$here/sgemm.py" 2048 3 2>/dev/null |
               "$PY" -c 'import json, sys; print(json.load(sys.stdin)["gflops"])' 2>/dev/null ||
               echo nan)
NPROC=$nproc TRAIND=$traind TRAIND_VERSION="${traind_version:-traind (version unknown)}" \
BENCH_PKGS=${pkgs% } BENCH_ROUNDS=$rounds BENCH_BATCHES="${batches[*]}" \
BENCH_SETTINGS=$settings BENCH_STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ) \
BENCH_CPU_FLAGS=$isa_flags BENCH_CPU_TIERS="${cpu_tiers[*]}" BENCH_TIERS="${tiers[*]}" \
BENCH_BLAS_CORE=${blas_core:-} BENCH_BLAS_DETECTED=$blas_detected \
BENCH_SGEMM_GFLOPS=$sgemm_gflops \
OPENBLAS_NUM_THREADS=1 "$PY" "$here/train_bench_report.py" meta >"$work/meta.json"

log "train-bench: $nproc CPU(s), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
log "train-bench: ISA flags: $isa_flags; traind tiers here: ${cpu_tiers[*]}"
log "train-bench: traind=$traind (${traind_version:-version unknown})"
log "train-bench: OpenBLAS picked $blas_detected; OPENBLAS_CORETYPE=${blas_core:-unset}; sgemm 2048^3 1 thread: $sgemm_gflops GFLOP/s"
log "train-bench: $rounds round(s), batch sizes ${batches[*]}, configs ${configs[*]}"

# ---- interleaved rounds: A B C D A B C D ... --------------------------------
failed=0
for ((r = 1; r <= rounds; r++)); do
    for b in "${batches[@]}"; do
        for cfg in "${configs[@]}"; do
            out=$work/run-$r-$b-$cfg.out
            impl=${cfg%%_*}
            status=ok
            ticks0=$(cpu_ticks)
            if run_config "$cfg" "$b" "$out" &&
               steal=$(steal_pct "$ticks0" "$(cpu_ticks)") &&
               line=$("$PY" "$here/train_bench_report.py" parse "$impl" "$out"); then
                IFS=$'\t' read -r sps secs loss run_path <<<"$line"
                unit=samples/s; [ "$impl" = sgemm ] && unit=GFLOP/s
                log "$(printf 'round %d/%d  batch %-4d %-10s %12.0f %-9s steal %s%%' \
                       "$r" "$rounds" "$b" "$cfg" "$sps" "$unit" "$steal")"
            else
                rc=$?
                status=fail; sps=nan; secs=nan; loss=nan; run_path=-; steal=nan
                failed=$((failed + 1))
                log "round $r/$rounds  batch $b $cfg FAILED (exit $rc), last output:"
                for f in "$out.err" "$out"; do
                    [ -s "$f" ] && tail -n 5 "$f" | sed 's/^/    | /' >&2
                done
            fi
            printf '%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$b" "$cfg" "$status" \
                "$sps" "$secs" "$loss" "${run_path:--}" "$steal" >>"$raw"
        done
    done
done

"$PY" "$here/train_bench_report.py" report "$raw" "$work/meta.json" "$out_json"
[ "$failed" = 0 ] || { log "train-bench: $failed run(s) failed"; exit 1; }
