#!/bin/sh
# layer-stats-bench.sh - prices the per-layer statistics (||W||, ||dW||,
# update ratio per weight tensor, measured in the trainer's reduce pass):
# the same digits job trained with and without them, alternating, in one
# run. Run from a built tree: sh bench/layer-stats-bench.sh [data-dir] [rounds]
set -e
cd "$(dirname "$0")/.."
out=bench/layer_stats_bench
${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -Iinclude -I. -o "$out" bench/layer_stats_bench.c \
	libtraind_engine.a $(pkg-config --libs jansson zlib libpng 2>/dev/null) -lopenblas -lm -lpthread
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "isa: $(grep -m1 flags /proc/cpuinfo | grep -o 'avx512f\|avx2\|fma\|sse4_2' | sort -u | tr '\n' ' ')"
"./$out" "${1:-data}" "${2:-7}"
rm -f "$out"
