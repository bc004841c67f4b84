#!/usr/bin/env bash
# run-daemon.sh - starts `traind serve` from this checkout (data in ./data,
# state in ./state, the dashboard from ./web), waits until it answers, and
# starts training the default digits model with the same request a user
# would send: curl -X POST .../v1/jobs -d '{}'. Stays in the foreground;
# Ctrl-C (SIGINT) stops the daemon gracefully.
#
# Environment: TRAIND_LISTEN (default 127.0.0.1:8080).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
listen=${TRAIND_LISTEN:-127.0.0.1:8080}
url="http://$listen"
mkdir -p state

./traind serve --config etc/traind.conf --listen "$listen" \
	--data-dir "$here/data" --state-dir "$here/state" --web-dir "$here/web" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"' INT TERM

for _ in $(seq 1 100); do
	curl -fsS "$url/healthz" >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || { echo "run-daemon: traind exited at start" >&2; exit 1; }
	sleep 0.1
done
curl -fsS "$url/healthz" >/dev/null || { echo "run-daemon: traind does not answer on $url" >&2; exit 1; }

echo "traind is up on $url - the dashboard is at $url/"
echo "starting the default digits job:"
curl -fsS -X POST "$url/v1/jobs" -H 'Content-Type: application/json' -d '{}'
echo
echo "follow it with: curl -s $url/v1/jobs | head; Ctrl-C stops the daemon"
wait "$pid"
