#!/usr/bin/env bash
# mpi-bench.sh - one job across Open MPI ranks against one process, on
# this machine: 1 rank x 2 workers, 2 ranks x 1 worker over shared memory,
# and 2 ranks x 1 worker over TCP on loopback. One epoch of Fashion-MNIST,
# 784-128-10, SGD lr 0.1, per batch size; prints samples/s, the time per
# step split into compute and exchange, and the bytes each rank receives
# per step, with the CPU it ran on. See README "Training across ranks".
#
#   bench/mpi-bench.sh [--rounds N] [--batches "64 256"]
#
# Environment: TRAIND (default ./traind at the repo root), FASHION_DIR.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
traind=${TRAIND:-$root/traind}
rounds=3
batches="64 256"
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) rounds=$2; shift 2 ;;
	--batches) batches=$2; shift 2 ;;
	-h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "mpi-bench: unknown option $1" >&2; exit 2 ;;
	esac
done
command -v mpirun >/dev/null || { echo "mpi-bench: apt-get install openmpi-bin" >&2; exit 1; }
"$traind" --version | grep -q 'mpi: yes' || { echo "mpi-bench: $traind was built without MPI" >&2; exit 1; }
fashion=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo OPENBLAS_NUM_THREADS=1

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
isa=$(grep -o -w 'avx512f\|avx2\|fma\|neon\|asimd' /proc/cpuinfo | sort -u | tr '\n' ' ')
echo "CPU: $cpu, $(nproc) cores; ISA flags: $isa"
echo "$("$traind" --version | tr '\n' ' ')"
echo "one epoch of Fashion-MNIST 784-128-10, SGD lr 0.1; median of $rounds rounds"
echo

# One run: prints "samples/s seconds exchange_seconds bytes_per_step".
run() { # ranks workers btl batch
	local ranks=$1 workers=$2 btl=$3 batch=$4 out
	local opts=(train --dataset fashion --fashion-dir "$fashion" --hidden 128 --optimizer sgd
		--learning-rate 0.1 --augment none --l2 0 --epochs 1 --batch-size "$batch"
		--workers "$workers" --json)
	if [ "$ranks" -eq 1 ]; then
		out=$("$traind" "${opts[@]}")
	else
		out=$(OMPI_MCA_btl=$btl mpirun -np "$ranks" "$traind" "${opts[@]}")
	fi
	local epoch done
	epoch=$(printf '%s\n' "$out" | grep '"epoch"' | tail -1)
	done=$(printf '%s\n' "$out" | grep '"done"' | tail -1)
	local sps sec xs xb
	sps=$(printf '%s' "$epoch" | sed -n 's/.*"samples_per_second": \([0-9.]*\).*/\1/p')
	sec=$(printf '%s' "$epoch" | sed -n 's/.*"seconds": \([0-9.]*\).*/\1/p')
	xs=$(printf '%s' "$done" | sed -n 's/.*"exchange_seconds": \([0-9.]*\).*/\1/p')
	xb=$(printf '%s' "$done" | sed -n 's/.*"exchange_bytes_per_step": \([0-9.]*\).*/\1/p')
	echo "$sps $sec $xs $xb"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

printf '%-6s %-26s %12s %14s %15s %14s\n' batch setup samples/s "compute ms/st" "exchange ms/st" "bytes/step"
for batch in $batches; do
	steps=$(( (60000 + batch - 1) / batch ))
	declare -A res=()
	for ((r = 1; r <= rounds; r++)); do # interleaved
		res[a]+="$(run 1 2 - "$batch")"$'\n'
		res[b]+="$(run 2 1 self,vader "$batch")"$'\n'
		res[c]+="$(run 2 1 self,tcp "$batch")"$'\n'
	done
	for k in a b c; do
		case $k in
		a) name="1 rank x 2 workers" ;;
		b) name="2 ranks x 1 worker, shm" ;;
		c) name="2 ranks x 1 worker, tcp" ;;
		esac
		sps=$(printf '%s' "${res[$k]}" | awk 'NF {print $1}' | median)
		sec=$(printf '%s' "${res[$k]}" | awk 'NF {print $2}' | median)
		xs=$(printf '%s' "${res[$k]}" | awk 'NF {print $3}' | median)
		xb=$(printf '%s' "${res[$k]}" | awk 'NF {print $4}' | median)
		awk -v b="$batch" -v n="$name" -v sps="$sps" -v sec="$sec" -v xs="$xs" -v xb="$xb" -v st="$steps" \
			'BEGIN {printf "%-6s %-26s %12.0f %14.3f %15.3f %14.0f\n", b, n, sps, 1000 * (sec - xs) / st, 1000 * xs / st, xb}'
	done
	unset res
done
