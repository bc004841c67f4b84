#!/usr/bin/env bash
# fuzz.sh - builds and runs the libFuzzer harnesses in fuzz/ (see
# fuzz/README.md).
#
#   scripts/fuzz.sh build                      every harness into fuzz/out/
#   scripts/fuzz.sh run NAME [SECONDS] [-- ARGS...]
#                                              one harness; SECONDS 0 = no
#                                              time limit; ARGS go to libFuzzer
#   scripts/fuzz.sh all [SECONDS]              every harness in turn (10 s
#                                              each by default); non-zero exit
#                                              when any of them found a fault
#   scripts/fuzz.sh repro NAME FILE...         runs the harness on given inputs
#   scripts/fuzz.sh list                       the harness names
#
# A harness is fuzz/fuzz_NAME.c; its line "fuzz-sources: src/a.c src/b/ ..."
# names the library sources it needs (a folder: all its .c files), compiled here with clang's coverage and
# sanitizers (the normal gcc build has neither), and an optional line
# "fuzz-pkg: MODULE ..." adds pkg-config modules to the default ones. Its
# seeds are fuzz/corpus/NAME/ (read only), its dictionary fuzz/dict/NAME.dict
# when there is one. What a run finds goes to fuzz/out/: new inputs to
# corpus/NAME/, crashes to crashes/NAME/, the whole log to logs/NAME.log.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/fuzz/out"
CC=${FUZZ_CC:-clang-14}
base_pkgs="jansson zlib libpng16"
# A tree configured with Open MPI builds dist.c against it (config.h).
pkg-config --exists ompi-c 2>/dev/null && grep -qs 'define HAVE_MPI 1' "$here/config.h" &&
	base_pkgs="$base_pkgs ompi-c"

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS_COMMON="-std=c11 -D_GNU_SOURCE -pthread -g -O1 -ffp-contract=fast -Wall -Wextra \
 -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -I$here/include $SAN"
# A configured tree's config.h, for sources that include it.
[ -f "$here/config.h" ] && CFLAGS_COMMON="$CFLAGS_COMMON -I$here"

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'fuzz: %s\n' "$*" >&2; exit 2; }

# Debian packages: clang with its libFuzzer runtime, and the libraries the
# parsers link. Installed when missing (the script runs as root).
install_packages() {
	local want=(clang-14 libclang-rt-14-dev pkg-config libjansson-dev zlib1g-dev libpng-dev
		libopenblas-dev)
	local missing=()
	for p in "${want[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	((${#missing[@]})) || return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages ${missing[*]}; install them as root"
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
}

harnesses() {
	local f
	for f in "$here"/fuzz/fuzz_*.c; do
		[ -e "$f" ] || continue
		f=${f##*/fuzz_}
		printf '%s\n' "${f%.c}"
	done
}

# The words after "TAG:" on the harness's tag line, if any.
harness_tag() {
	sed -n "s/^.*$2:[[:space:]]*//p" "$here/fuzz/fuzz_$1.c" | head -1
}

# Is $1 older than any of the following files?
stale() {
	local target=$1 dep
	shift
	[ -e "$target" ] || return 0
	for dep in "$@"; do
		[ "$dep" -nt "$target" ] && return 0
	done
	return 1
}

build_one() {
	local name=$1 src obj objs=() pkgs cflags libs
	local srcs
	srcs=$(harness_tag "$name" fuzz-sources)
	[ -n "$srcs" ] || die "fuzz/fuzz_$name.c has no 'fuzz-sources:' line"
	pkgs="$base_pkgs $(harness_tag "$name" fuzz-pkg)"
	cflags="$CFLAGS_COMMON $(pkg-config --cflags $pkgs)"
	libs="$(pkg-config --libs $pkgs) -lm"
	local headers=("$here"/include/traind/*.h "$here/fuzz/fuzz.h" "$0")
	mkdir -p "$out/obj"
	# A folder (src/engine/) stands for every .c file in it.
	local expanded=() entry
	for entry in $srcs; do
		if [ -d "$here/$entry" ]; then
			for src in "$here/${entry%/}"/*.c; do
				expanded+=("${src#"$here/"}")
			done
		else
			expanded+=("$entry")
		fi
	done
	for src in "${expanded[@]}"; do
		[ -f "$here/$src" ] || die "fuzz_$name.c names $src, which does not exist"
		obj="$out/obj/$(printf '%s' "${src%.c}" | tr '/' '_').o"
		if stale "$obj" "$here/$src" "${headers[@]}"; then
			log "cc $src"
			# Coverage for libFuzzer without its main(): the library code.
			$CC $cflags -fsanitize=fuzzer-no-link -c "$here/$src" -o "$obj"
		fi
		objs+=("$obj")
	done
	local bin="$out/fuzz_$name"
	if stale "$bin" "$here/fuzz/fuzz_$name.c" "${objs[@]}" "${headers[@]}"; then
		log "cc fuzz/fuzz_$name.c -> fuzz/out/fuzz_$name"
		$CC $cflags -fsanitize=fuzzer -I"$here/fuzz" "$here/fuzz/fuzz_$name.c" "${objs[@]}" \
			$libs -o "$bin"
	fi
}

build() {
	install_packages
	command -v "$CC" >/dev/null || die "$CC not found"
	local names
	names=$(harnesses)
	[ -n "$names" ] || die "no fuzz/fuzz_*.c harnesses"
	for n in $names; do
		build_one "$n"
	done
}

# Runs one harness; prints "fuzz NAME: N executions in S s: ok|FAILED".
run_one() {
	local name=$1 secs=$2
	shift 2
	local bin="$out/fuzz_$name"
	[ -f "$here/fuzz/fuzz_$name.c" ] || die "no harness fuzz/fuzz_$name.c"
	[ -d "$here/fuzz/corpus/$name" ] || die "no seed corpus fuzz/corpus/$name/"
	mkdir -p "$out/corpus/$name" "$out/crashes/$name" "$out/logs"
	local args=(-timeout=25 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$out/crashes/$name/")
	[ "$secs" -gt 0 ] && args+=(-max_total_time="$secs")
	[ -f "$here/fuzz/dict/$name.dict" ] && args+=(-dict="$here/fuzz/dict/$name.dict")
	local logf="$out/logs/$name.log" status=0
	if [ "$secs" -gt 0 ]; then log "fuzz $name for ${secs}s"; else log "fuzz $name"; fi
	# New inputs go to the first directory (fuzz/out), never to the seeds.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	"$bin" "${args[@]}" "$@" "$out/corpus/$name" "$here/fuzz/corpus/$name" >"$logf" 2>&1 &
	local pid=$!
	# Progress on the terminal: the periodic lines and any report.
	tail -n +1 -f --pid="$pid" "$logf" 2>/dev/null |
		grep -a --line-buffered -E 'INITED|pulse|DONE|ERROR|SUMMARY|runtime error|fuzz check|Test unit written|==[0-9]+==' ||
		true
	wait "$pid" || status=$?
	local execs secs_used
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logf" | tail -1)
	secs_used=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$logf" | tail -1)
	if [ "$status" -eq 0 ]; then
		printf 'fuzz %s: %s executions in %s s: ok\n' "$name" "${execs:-?}" "${secs_used:-?}"
	else
		printf 'fuzz %s: %s executions: FAILED (exit %d); log %s\n' "$name" "${execs:-?}" \
			"$status" "${logf#"$here"/}"
		grep -a -E 'Test unit written|SUMMARY' "$logf" | sed 's/^/    /' || true
	fi
	return "$status"
}

cmd=${1:-}
case "$cmd" in
build)
	build
	;;
run)
	[ $# -ge 2 ] || die "usage: scripts/fuzz.sh run NAME [SECONDS] [-- ARGS...]"
	name=$2
	shift 2
	secs=60
	if [ $# -gt 0 ] && [ "$1" != "--" ]; then
		secs=$1
		shift
	fi
	[ "${1:-}" = "--" ] && shift
	[[ "$secs" =~ ^[0-9]+$ ]] || die "SECONDS must be a whole number, not '$secs'"
	build
	run_one "$name" "$secs" "$@"
	;;
all)
	secs=${2:-10}
	[[ "$secs" =~ ^[0-9]+$ ]] || die "SECONDS must be a whole number, not '$secs'"
	build
	failed=()
	for n in $(harnesses); do
		run_one "$n" "$secs" || failed+=("$n")
	done
	if ((${#failed[@]})); then
		echo "fuzz: faults found by ${failed[*]} (inputs in fuzz/out/crashes/)" >&2
		exit 1
	fi
	echo "fuzz: every harness ran clean"
	;;
repro)
	[ $# -ge 3 ] || die "usage: scripts/fuzz.sh repro NAME FILE..."
	name=$2
	shift 2
	build
	"$out/fuzz_$name" "$@"
	;;
list)
	harnesses
	;;
*)
	die "usage: scripts/fuzz.sh build | run NAME [SECONDS] [-- ARGS] | all [SECONDS] | repro NAME FILE... | list"
	;;
esac
