#!/usr/bin/env bash
# sanitize.sh - builds the tree out of place with sanitizers and runs the
# Check suites there.
#
#   scripts/sanitize.sh address   AddressSanitizer + UBSan, every suite
#   scripts/sanitize.sh thread    ThreadSanitizer, the suites with threads
#
# `make check-sanitizers` runs both. A sanitizer report fails the run even
# when Check counts the test as passed (a forked test's leak report, say).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-address}
case "$kind" in
address)
	flags=address,undefined
	suites=""
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	;;
thread)
	flags=thread
	# The suites whose code runs threads: pool, trainer (and its worker
	# counts per tier), jobs, the server and its shutdown.
	suites="pool train isa jobs http shutdown"
	export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
	;;
*)
	echo "usage: scripts/sanitize.sh address|thread" >&2
	exit 2
	;;
esac
build="$here/build-$kind"
# A copy of the sources (tracked and new files, not build outputs or data):
# autotools refuse an out-of-tree build of a tree configured in place.
mkdir -p "$build"
(cd "$here" && git ls-files -z --cached --others --exclude-standard) |
	(cd "$here" && xargs -0 cp --parents -t "$build" 2>/dev/null) || true
cd "$build"
if [ ! -f Makefile ] || [ configure.ac -nt Makefile ] || [ Makefile.am -nt Makefile ]; then
	autoreconf -fi >/dev/null 2>&1
	./configure --enable-sanitizers="$flags" CFLAGS="-g -O1" >/dev/null
fi
make -j"$(nproc)" tests/check_traind >/dev/null
log="$build/sanitize-$kind.log"
: >"$log"
status=0
if [ -z "$suites" ]; then
	TRAIND_TEST_DATA="$here/data" CK_DEFAULT_TIMEOUT=1200 OPENBLAS_NUM_THREADS=1 \
		tests/check_traind >>"$log" 2>&1 || status=$?
else
	for s in $suites; do
		CK_RUN_SUITE=$s TRAIND_TEST_DATA="$here/data" CK_DEFAULT_TIMEOUT=1200 \
			OPENBLAS_NUM_THREADS=1 tests/check_traind >>"$log" 2>&1 || status=$?
	done
fi
grep -E '^[0-9]+%: Checks' "$log" || true
if grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$log"; then
	echo "sanitize ($kind): sanitizer reports in $log:" >&2
	grep -nE 'ERROR: (Address|Leak|Undefined)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$log" | head -20 >&2
	exit 1
fi
[ "$status" -eq 0 ] || { echo "sanitize ($kind): tests failed, see $log" >&2; exit 1; }
echo "sanitize ($kind): clean"
