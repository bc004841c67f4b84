#!/usr/bin/env bash
# Slow-client bench: slowhttptest (Debian's package) against a traind serve
# it starts, in slow-header (Slowloris) and slow-body (R-U-Dead-Yet) modes,
# from 127.0.0.1, while probes from 127.0.0.2 time a /healthz and a v2
# binary infer once a second. Two daemons, one after the other: one set up
# as traind was before the connection guard (1,000 connections, no limit
# per address, no header deadline or body rate) and one with the defaults.
# Loopback addresses only.
#
#   bench/slow-bench.sh [--duration SECONDS] [--connections N] [--rate N]
#
# Environment: TRAIND (default ./traind at the repo root), DATA_DIR (default
# ./data; needs digits/ from scripts/fetch-digits.sh).
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: bench/slow-bench.sh [--duration SECONDS] [--connections N] [--rate N]

  --duration S     seconds each attack lasts (default 30)
  --connections N  slowhttptest connections (default 2000)
  --rate N         new connections a second (default 200)

For each daemon set-up and attack mode it reports: the probes from
127.0.0.2 answered within 1 s (of one a second), their median and worst
latency, the daemon's resident memory and open descriptors before the
attack, at its middle and 3 s after it, and the guard's counters.
Writes bench/out/slow-bench.json.
USAGE
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
TRAIND=${TRAIND:-$root/traind}
DATA_DIR=${DATA_DIR:-$root/data}
duration=30
conns=2000
rate=200
while [ $# -gt 0 ]; do
    case $1 in
    --duration) duration=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "slow-bench: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'slow-bench: %s\n' "$*" >&2; exit 1; }

if ! command -v slowhttptest >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "slowhttptest is missing: apt-get install slowhttptest"
    log "installing slowhttptest"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slowhttptest >/dev/null
fi
for tool in curl jq python3 awk; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done
[ -x "$TRAIND" ] || die "no traind binary at $TRAIND (build it, or set TRAIND)"
[ -f "$DATA_DIR/digits/t10k-images-idx3-ubyte.gz" ] ||
    die "no digits under $DATA_DIR (scripts/fetch-digits.sh makes them)"
# slowhttptest holds every connection it opens.
[ "$(ulimit -n)" -gt $((conns + 100)) ] || ulimit -n $((conns + 200)) ||
    die "ulimit -n is under $conns"

work=$(mktemp -d "${TMPDIR:-/tmp}/slow-bench.XXXXXX")
pid=
bg=()
cleanup() {
    for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

start_daemon() { # extra args...
    "$TRAIND" serve --config /dev/null --listen 127.0.0.1:0 --data-dir "$DATA_DIR" \
        --state-dir "$work/state" --web-dir "$work" --access-log false --workers 1 "$@" \
        >"$work/stdout" 2>"$work/stderr" &
    pid=$!
    base=
    for _ in $(seq 100); do
        base=$(sed -n 's|^traind: listening on \(http://[^ ]*\)/$|\1|p' "$work/stdout")
        [ -n "$base" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$work/stderr" >&2; die "traind serve exited"; }
        sleep 0.1
    done
    [ -n "$base" ] || die "traind serve did not start"
}

stop_daemon() {
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
    rm -rf "$work/state"
}

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
fds() { ls "/proc/$pid/fd" | wc -l; }
metric() { curl -sS --interface 127.0.0.2 "$base/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

# A model to infer with, and one digit as a v2 binary FP32 request.
prepare_model() {
    local id s
    id=$(curl -sS --interface 127.0.0.2 -X POST -H 'Content-Type: application/json' \
        -d '{"name": "slow-bench", "hidden": [64], "epochs": 1, "augment": "none"}' \
        "$base/v1/jobs" | jq -r .id)
    for _ in $(seq 600); do
        s=$(curl -sS --interface 127.0.0.2 "$base/v1/jobs/$id" | jq -r .state)
        [ "$s" = completed ] && break
        sleep 0.5
    done
    [ "$s" = completed ] || die "the model did not train ($s)"
    model=$id
}

python3 - "$DATA_DIR/digits/t10k-images-idx3-ubyte.gz" "$work/infer.bin" "$work/infer.hlen" <<'PY'
import gzip, json, struct, sys
img = gzip.open(sys.argv[1]).read()[16:16 + 784]
head = json.dumps({"inputs": [{"name": "input", "shape": [1, 784], "datatype": "FP32",
                               "parameters": {"binary_data_size": 784 * 4}}],
                   "parameters": {"binary_data_output": True}}).encode()
open(sys.argv[2], "wb").write(head + struct.pack("<784f", *[v / 255 for v in img]))
open(sys.argv[3], "w").write(str(len(head)))
PY
hlen=$(cat "$work/infer.hlen")

# One probe a second from 127.0.0.2 for $1 seconds: "seconds" or "timeout".
probe_loop() { # KIND SECONDS OUT
    local end=$(( $(date +%s) + $2 )) t
    while [ "$(date +%s)" -lt "$end" ]; do
        if [ "$1" = healthz ]; then
            t=$(curl -sS -o /dev/null --interface 127.0.0.2 -m 1 -w '%{http_code} %{time_total}' \
                "$base/healthz" 2>/dev/null) || t="000 timeout"
        else
            t=$(curl -sS -o /dev/null --interface 127.0.0.2 -m 1 -w '%{http_code} %{time_total}' \
                -H 'Content-Type: application/octet-stream' \
                -H "Inference-Header-Content-Length: $hlen" --data-binary @"$work/infer.bin" \
                "$base/v2/models/$model/infer" 2>/dev/null) || t="000 timeout"
        fi
        echo "$t" >>"$3"
        sleep 1
    done
}

# "answered/total median_ms max_ms" of a probe file (timeouts count as 1000 ms).
summarise() {
    local ok n
    n=$(wc -l <"$1")
    ok=$(awk '$1 == "200" && $2 != "timeout" && $2 < 1' "$1" | wc -l)
    awk '{ print ($2 == "timeout" || $1 != "200") ? 1 : $2 }' "$1" | sort -g |
        awk -v ok="$ok" -v n="$n" '{ v[NR] = $1 }
            END { printf "%d/%d %.1f %.1f", ok, n, 1000 * v[int((NR + 1) / 2)], 1000 * v[NR] }'
}

results=()
json_rows=()
attack() { # SETUP MODE(-H|-B)
    local name=$1 mode=$2 label rss0 fd0 rss1 fd1 rss2 fd2 hz inf
    label=$([ "$mode" = -H ] && echo slow-header || echo slow-body)
    local cause url
    cause=$([ "$mode" = -H ] && echo header || echo body_rate)
    # slow bodies go to a route that reads a body (POST /healthz is a 405)
    url=$([ "$mode" = -H ] && echo "$base/healthz" || echo "$base/v1/jobs")
    local refused0 timed0
    refused0="$(metric 'traind_http_connections_refused_total{cause="per_address"}')"
    timed0="$(metric "traind_http_connections_timed_out_total{cause=\"$cause\"}")"
    rss0=$(rss_kb); fd0=$(fds)
    : >"$work/hz"; : >"$work/inf"
    log "$name: $label, $conns connections at $rate/s, one follow-up every 10 s, ${duration}s"
    slowhttptest "$mode" -c "$conns" -r "$rate" -i 10 -x 24 -p 3 -l "$duration" -s 65536 \
        -u "$url" >"$work/slowhttptest.log" 2>&1 &
    bg+=($!)
    local shs=$!
    sleep 1
    probe_loop healthz "$((duration - 2))" "$work/hz" & bg+=($!)
    probe_loop infer "$((duration - 2))" "$work/inf" & bg+=($!)
    sleep $((duration / 2))
    rss1=$(rss_kb); fd1=$(fds)
    wait "$shs" 2>/dev/null || true
    sleep 3
    rss2=$(rss_kb); fd2=$(fds)
    hz=$(summarise "$work/hz"); inf=$(summarise "$work/inf")
    local refused timed
    refused="$(metric 'traind_http_connections_refused_total{cause="per_address"}')"
    timed="$(metric "traind_http_connections_timed_out_total{cause=\"$cause\"}")"
    refused=$(( ${refused:-0} - ${refused0:-0} ))
    timed=$(( ${timed:-0} - ${timed0:-0} ))
    results+=("$(printf '%-10s %-11s %-22s %-22s %7s %7s %7s %5s %5s %5s %8s %8s' "$name" "$label" \
        "$hz" "$inf" "$((rss0 / 1024))" "$((rss1 / 1024))" "$((rss2 / 1024))" "$fd0" "$fd1" "$fd2" \
        "${refused:-0}" "${timed:-0}")")
    read -r hz_ok hz_med hz_max <<<"$hz"
    read -r in_ok in_med in_max <<<"$inf"
    json_rows+=("{\"setup\": \"$name\", \"mode\": \"$label\", \"healthz\": {\"within_1s\": \"$hz_ok\", \"median_ms\": $hz_med, \"max_ms\": $hz_max}, \"infer\": {\"within_1s\": \"$in_ok\", \"median_ms\": $in_med, \"max_ms\": $in_max}, \"rss_mib\": [$((rss0 / 1024)), $((rss1 / 1024)), $((rss2 / 1024))], \"fds\": [$fd0, $fd1, $fd2], \"refused_per_address\": ${refused:-0}, \"timed_out\": ${timed:-0}}")
}

run_setup() { # NAME ARGS...
    local name=$1
    shift
    start_daemon "$@"
    log "$name: traind serve at $base (pid $pid) $*"
    prepare_model
    # warm: a few requests so buffers and threads are in place before "before"
    for _ in 1 2 3; do curl -sS -o /dev/null --interface 127.0.0.2 "$base/healthz"; done
    attack "$name" -H
    attack "$name" -B
    stop_daemon
}

run_setup before --max-connections 1000 --max-connections-per-address 1000000 \
    --header-timeout 3600 --min-body-rate 0
run_setup defaults

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
isa=$(grep -o -w -E 'avx512f|avx2|sse4_2' /proc/cpuinfo | sort -u | tr '\n' ' ')
mkdir -p "$root/bench/out"
{
    printf '{"cpu": "%s", "cores": %s, "connections": %s, "rate": %s, "seconds": %s, "runs": [\n' \
        "$cpu" "$(nproc)" "$conns" "$rate" "$duration"
    (IFS=$',\n'; echo "${json_rows[*]}")
    printf ']}\n'
} >"$root/bench/out/slow-bench.json"

printf '\ntraind slow-client bench: %s (%s cores; %s)\n' "$cpu" "$(nproc)" "$isa"
printf 'slowhttptest from 127.0.0.1: %s connections at %s/s, follow-ups every 10 s, %s s;\n' \
    "$conns" "$rate" "$duration"
printf 'probes from 127.0.0.2 once a second (curl -m 1). before = 1,000 connections, no\n'
printf 'per-address limit, no header deadline or body rate; defaults = this build'"'"'s.\n\n'
printf '%-10s %-11s %-22s %-22s %-23s %-17s %8s %8s\n' "" "" "healthz ok/n p50 max" \
    "v2 infer ok/n p50 max" "RSS MiB before/mid/after" "fds before/mid/after" "refused" "timedout"
for r in "${results[@]}"; do echo "$r"; done
printf '\nwrote bench/out/slow-bench.json\n'
