#!/usr/bin/env bash
# test-summary.sh - prints "N passed, N failed" from the results of the
# last `make check`: the Check runner's per-test counts from its log, and
# one result per other test script from automake's .trs files.
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
for log in tests/check_*.log; do
	[ -f "$log" ] || continue
	line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		failed=$((failed + 1)) # the runner died before reporting
		continue
	fi
	n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
	f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
	e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
	passed=$((passed + n - f - e))
	failed=$((failed + f + e))
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
	fi
done
echo "$passed passed, $failed failed"
