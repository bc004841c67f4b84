#!/usr/bin/env bash
# load-fault.sh - the load-and-fault test: loopback only, bounded in time.
#
#   bench/load-fault.sh [--clients 64] [--seconds 60]
#
# 1. Starts `traind serve` on 127.0.0.1 with a fresh state dir, trains a
#    small model to predict with, starts a long digits job, and queues a
#    pool of jobs to pause, resume and cancel.
# 2. `wrk` drives --clients connections for --seconds through
#    bench/load-mix.lua: predictions, status and loss-curve polls, job
#    lists, pause/resume/cancel and new jobs, while the long job trains.
# 3. Kills the daemon with SIGKILL mid-epoch and starts it again on the same
#    state dir.
# Then it reports: requests, answers by status, errors outside the contract
# (socket errors, 5xx other than 503 - must be 0), p99 latency, jobs
# recovered, and what was lost: every job that was answered 201 must be
# back, and the long job's loss curve up to where it resumed must be there
# point for point (must be 0 bytes lost).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
clients=64
seconds=60
while [ $# -gt 0 ]; do
	case "$1" in
	--clients) clients=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	*) echo "usage: bench/load-fault.sh [--clients N] [--seconds S]" >&2; exit 2 ;;
	esac
done
traind=${TRAIND:-$root/traind}
[ -x "$traind" ] || { echo "load-fault: build traind first" >&2; exit 1; }
command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null
command -v curl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q curl >/dev/null

work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
url="http://127.0.0.1:$port"
pid=
cleanup() {
	local rc=$?
	[ -n "$pid" ] && { kill -9 "$pid"; wait "$pid"; } 2>/dev/null
	rm -rf "$work"
	exit "$rc" # the test's status, not the killed daemon's
}
trap cleanup EXIT

start() {
	"$traind" serve --listen "127.0.0.1:$port" --data-dir "$root/data" \
		--state-dir "$work/state" --web-dir "$root/web" --access-log false \
		--max-queued-jobs 64 --max-jobs 1000 --checkpoint-seconds 2 >>"$work/daemon.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do curl -fs "$url/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
	echo "load-fault: traind did not start" >&2; cat "$work/daemon.log" >&2; exit 1
}
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
post() { curl -fs -X POST "$url$1" -H 'Content-Type: application/json' -d "$2"; }

start
model=$(post /v1/jobs '{"hidden": [64], "epochs": 2, "augment": "none"}' | jget "d['id']")
until [ "$(curl -fs "$url/v1/jobs/$model" | jget "d['state']")" = completed ]; do sleep 0.2; done
running=$(post /v1/jobs '{"epochs": 1000}' | jget "d['id']")
pool=
for _ in $(seq 8); do
	pool+=$(post /v1/jobs '{"hidden": [16], "epochs": 1, "augment": "none"}' | jget "d['id']"),
done
python3 -c "
import gzip
d = gzip.open('$root/data/digits/t10k-images-idx3-ubyte.gz').read()[16:16 + 784]
print('{\"instances\": [[' + ','.join('%.4f' % (b / 255) for b in d) + ']]}')" >"$work/body.json"

echo "load: $clients clients for ${seconds}s against $url (training job $running)"
MODEL=$model RUNNING=$running POOL=${pool%,} BODY_FILE=$work/body.json \
	wrk -t2 -c"$clients" -d"${seconds}s" --timeout 10s -s "$root/bench/load-mix.lua" "$url" \
	>"$work/wrk.txt" 2>&1 || true
line=$(grep TRAIND_LOAD "$work/wrk.txt" || true)
[ -n "$line" ] || { cat "$work/wrk.txt"; exit 1; }

# Before the kill: every job and the training job's curve.
curl -fs "$url/v1/jobs?limit=1000" >"$work/jobs.before"
# Mid-epoch: wait until the job is past the start of an epoch, then kill.
until curl -fs "$url/v1/jobs/$running" |
	jget "1 if d['state'] == 'running' and d['progress']['step'] % 125 > 30 else ''" | grep -q 1; do
	sleep 0.05
done
curl -fs "$url/v1/jobs/$running/metrics?since_step=0&max_points=100000" >"$work/curve.before"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
start
curl -fs "$url/v1/jobs?limit=1000" | jget "'\n'.join(sorted(j['id'] for j in d['jobs']))" >"$work/ids.after"
curl -fs "$url/v1/jobs/$running/metrics?since_step=0&max_points=100000" >"$work/curve.after"
resumed_at=$(curl -fs "$url/v1/jobs/$running" | jget "d['progress']['step']")

python3 - "$work" "$line" "$resumed_at" <<'PY'
import json, re, sys
work, line, resumed = sys.argv[1], sys.argv[2], int(sys.argv[3])
f = dict(re.findall(r'(\w+)=(\S+)', line))
codes = dict(c.split(':') for c in f['codes'].split(',') if c)
contract = {'200', '201', '204', '400', '404', '409', '413', '503'}
bad = int(f['socket_errors']) + sum(int(v) for k, v in codes.items() if k not in contract)
jobs_before = json.load(open(work + '/jobs.before'))['jobs']
before = [j['id'] for j in jobs_before]
after = set(open(work + '/ids.after').read().split())
lost_jobs = [j for j in jobs_before if j['id'] not in after]
cb = json.load(open(work + '/curve.before'))['points']
ca = {p[0]: p for p in json.load(open(work + '/curve.after'))['points']}
# Points up to where training resumed must come back unchanged.
lost_points = [p for p in cb if p[0] <= resumed and (p[0] not in ca or ca[p[0]][2] != p[2])]
recovered = open(work + '/daemon.log').read()
m = re.search(r'recovered (\d+) jobs from .*?, (\d+) of them to resume', recovered)
print()
print('requests          %s in the load phase (%s/s)' % (f['requests'], f['rps']))
print('answers           %s' % ', '.join('%s: %s' % kv for kv in sorted(codes.items())))
print('non-contract      %d errors (socket errors, 5xx other than 503)' % bad)
print('latency           p50 %s ms, p99 %s ms, max %s ms' % (f['p50_ms'], f['p99_ms'], f['max_ms']))
print('jobs recovered    %s of %d (%s to resume); missing: %d' % (
    m.group(1) if m else '?', len(before), m.group(2) if m else '?', len(lost_jobs)))
print('curve             %d points before the kill, resumed at step %d, %d points up to it lost or changed' % (
    len(cb), resumed, len(lost_points)))
# A lost job counts its JSON as the API showed it; a lost point its
# 20 bytes on disk (step, time, loss).
lost_bytes = sum(len(json.dumps(j)) for j in lost_jobs) + 20 * len(lost_points)
print('bytes lost        %d' % lost_bytes)
sys.exit(1 if bad or lost_jobs or lost_points else 0)
PY
