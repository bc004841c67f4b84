#!/usr/bin/env bash
# test-summary.sh - prints "N passed, N failed" from the results of the
# last `make check`: the Check runner's per-test counts from its log, and
# one result per other test script from automake's .trs files. Above that
# line, why each failure failed: the Check runner's failing checks, and a
# failing script's error lines (CI shows only the end of the output).
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
for log in tests/check_*.log; do
	[ -f "$log" ] || continue
	line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		failed=$((failed + 1)) # the runner died before reporting
		echo "--- $log: the runner died before reporting; its last lines"
		tail -n 25 "$log"
		continue
	fi
	n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
	f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
	e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
	passed=$((passed + n - f - e))
	failed=$((failed + f + e))
	if [ $((f + e)) -gt 0 ]; then
		echo "--- $log: failing checks"
		grep -E ':(F|E):' "$log" | head -n 20
	fi
done
for trs in tests/*.trs; do
	[ -f "$trs" ] || continue
	case "$trs" in tests/check_*.trs) continue ;; esac
	if grep -q '^:test-result: PASS' "$trs"; then
		passed=$((passed + 1))
	elif grep -q '^:test-result: SKIP' "$trs"; then
		:
	else
		failed=$((failed + 1))
		echo "--- ${trs%.trs}.log: what failed"
		grep -E '✖|Error|expected|actual|exited|FAIL|fail:' "${trs%.trs}.log" 2>/dev/null |
			grep -v '^ℹ' | cut -c1-200 | head -n 20
	fi
done
echo "$passed passed, $failed failed"
