#!/usr/bin/env bash
# HTTP benchmark: prediction throughput and latency of `traind serve`, with
# and without a job training at the same time, and training throughput with
# and without a browser-like client polling status and metrics once a
# second. It starts its own daemon on 127.0.0.1 with an ephemeral port and
# stops it at the end.
#
#   bench/http-bench.sh [--duration SECONDS] [--rounds N] [--connections N] [--threads N]
#
# Environment: TRAIND (default ./traind at the repo root), DATA_DIR (default
# ./data; needs digits/ from scripts/fetch-digits.sh), HTTP_THREADS (the
# daemon's http_threads, default 2), WORKERS (the daemon's workers, default
# its own: the cores), TRAIN_NICE (the daemon's train_nice, default its
# own).
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: bench/http-bench.sh [--duration SECONDS] [--rounds N] [--connections N] [--threads N]

  --duration S     seconds per measurement (default 10)
  --rounds N       training measurements alternate alone/polled N times;
                   medians reported (default 3)
  --connections N  wrk connections (default 16)
  --threads N      wrk threads (default 2)

Measures, against a traind serve it starts on 127.0.0.1 (ephemeral port):
  1. single-image JSON predictions (POST /v1/models/ID:predict): requests/s,
     p50 and p99 latency, with the server otherwise idle, and the same image
     as an Open Inference Protocol binary infer (POST /v2/models/ID/infer,
     FP32 [1, 784] after a JSON header, outputs in binary: what tritonclient
     sends by default);
  2. the same two while a job trains (v1 and v2 alternate, --rounds times
     each, medians; a fresh job for each measurement, so that none ends
     during one);
  3. training samples/s of a job with no HTTP clients;
  4. the same with a browser-like client polling the job and its metrics
     (since_step cursor) once a second; 3 and 4 alternate, a fresh job a round.
Besides req/s and latency, which other work on the machine moves, each
prediction row gives the CPU microseconds the daemon's HTTP threads spent a
request, which it moves far less.
Prints a table and writes bench/out/http-bench.json.
USAGE
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
TRAIND=${TRAIND:-$root/traind}
DATA_DIR=${DATA_DIR:-$root/data}
HTTP_THREADS=${HTTP_THREADS:-2}
duration=10
rounds=3
connections=16
threads=2

while [ $# -gt 0 ]; do
    case $1 in
    --duration) duration=$2; shift 2 ;;
    --duration=*) duration=${1#*=}; shift ;;
    --rounds) rounds=$2; shift 2 ;;
    --rounds=*) rounds=${1#*=}; shift ;;
    --connections) connections=$2; shift 2 ;;
    --connections=*) connections=${1#*=}; shift ;;
    --threads) threads=$2; shift 2 ;;
    --threads=*) threads=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "http-bench: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'http-bench: %s\n' "$*" >&2; exit 1; }

# ---- tools and inputs ----
if ! command -v wrk >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "wrk is missing: apt-get install wrk"
    log "installing wrk"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null
fi
for tool in curl jq gzip od python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done
[ -x "$TRAIND" ] || die "no traind binary at $TRAIND (build it, or set TRAIND)"
images=$DATA_DIR/digits/t10k-images-idx3-ubyte.gz
[ -f "$images" ] || die "no digits under $DATA_DIR (scripts/fetch-digits.sh makes them)"

work=$(mktemp -d "${TMPDIR:-/tmp}/http-bench.XXXXXX")
pid=
poller=
cleanup() {
    [ -n "$poller" ] && kill "$poller" 2>/dev/null || true
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# ---- the daemon ----
args=(serve --config /dev/null --listen 127.0.0.1:0 --data-dir "$DATA_DIR"
      --web-dir "$work" --access-log false --http-threads "$HTTP_THREADS")
[ -n "${WORKERS:-}" ] && args+=(--workers "$WORKERS")
[ -n "${TRAIN_NICE:-}" ] && args+=(--train-nice "$TRAIN_NICE")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$TRAIND" "${args[@]}" >"$work/stdout" 2>"$work/stderr" &
pid=$!
base=
for _ in $(seq 100); do
    base=$(sed -n 's|^traind: listening on \(http://[^ ]*\)/$|\1|p' "$work/stdout")
    [ -n "$base" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/stderr" >&2; die "traind serve exited"; }
    sleep 0.1
done
[ -n "$base" ] || die "traind serve did not start"
log "traind serve at $base (pid $pid)"

api() { # METHOD PATH [JSON]
    if [ $# -ge 3 ]; then
        curl -sS -X "$1" -H 'Content-Type: application/json' -d "$3" "$base$2"
    else
        curl -sS -X "$1" "$base$2"
    fi
}

wait_state() { # ID STATE SECONDS
    local s
    for _ in $(seq $(($3 * 10))); do
        s=$(api GET "/v1/jobs/$1" | jq -r .state)
        [ "$s" = "$2" ] && return 0
        case $s in failed|cancelled) die "job $1 is $s" ;; esac
        sleep 0.1
    done
    die "job $1 is $s, not $2, after $3 s"
}

new_job() { # JSON -> id
    local id
    id=$(api POST /v1/jobs "$1" | jq -r .id)
    [ -n "$id" ] && [ "$id" != null ] || die "could not create a job from $1"
    echo "$id"
}

drop_job() {
    api POST "/v1/jobs/$1:cancel" >/dev/null || true
    api DELETE "/v1/jobs/$1" >/dev/null || true
}

samples_total() {
    api GET /metrics | awk '$1 == "traind_train_samples_total" { print $2 }'
}

now() { date +%s.%N; }

# The model the predictions go to: a short job on the digits.
log "training the model to predict with"
model=$(new_job '{"name": "bench-model", "hidden": [128], "epochs": 2, "augment": "none"}')
wait_state "$model" completed 600

# One real test digit as the body: {"pixel_range": 255, "instances": [[784 values]]}.
# (gzip dies of SIGPIPE when head has its bytes: not a failure here.)
pixels=$( (gzip -dc "$images" || true) | head -c 800 | tail -c 784 | od -An -tu1 -v |
         tr -s ' \n' ',' | sed 's/^,//; s/,$//')
printf '{"pixel_range": 255, "instances": [[%s]]}' "$pixels" >"$work/body.json"
curl -sS -f -X POST -H 'Content-Type: application/json' --data-binary @"$work/body.json" \
    "$base/v1/models/$model:predict" >/dev/null || die "the predict request fails"

# The same digit as a v2 binary infer: JSON header, then 784 little-endian floats.
python3 - "$work/body.json" "$work/infer.bin" "$work/infer.hlen" <<'PY'
import json, struct, sys
pixels = json.load(open(sys.argv[1]))["instances"][0]
head = json.dumps({"inputs": [{"name": "input", "shape": [1, 784], "datatype": "FP32",
                               "parameters": {"binary_data_size": 784 * 4}}],
                   "parameters": {"binary_data_output": True}}).encode()
open(sys.argv[2], "wb").write(head + struct.pack("<784f", *[v / 255 for v in pixels]))
open(sys.argv[3], "w").write(str(len(head)))
PY
hlen=$(cat "$work/infer.hlen")
curl -sS -f -X POST -H 'Content-Type: application/octet-stream' \
    -H "Inference-Header-Content-Length: $hlen" --data-binary @"$work/infer.bin" \
    "$base/v2/models/$model/infer" >/dev/null || die "the v2 infer request fails"

# CPU ticks the daemon's HTTP threads have used: what a request costs the
# server, whatever else the machine runs (its own threads only, so not
# training either).
http_ticks() {
    local t n=0
    for t in /proc/"$pid"/task/*; do
        [ "$(cat "$t/comm" 2>/dev/null)" = MHD-worker ] || continue
        n=$((n + $(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null || echo 0)))
    done
    echo "$n"
}
tck=$(getconf CLK_TCK)

predict_bench() { # [v2] -> "rps p50 p99 non2xx errors train_samples_per_s http_us_per_request"
    local line job= s0 s1 t0 t1 rate=0 c0 c1 reqs
    if [ "$busy" = 1 ]; then
        job=$(training_job)
        s0=$(samples_total); t0=$(now)
    fi
    c0=$(http_ticks)
    if [ "${1:-}" = v2 ]; then
        line=$(BODY_FILE="$work/infer.bin" CONTENT_TYPE=application/octet-stream \
               INFER_HEADER_LENGTH="$hlen" wrk -t"$threads" -c"$connections" -d"${duration}s" \
               -s "$here/predict.lua" "$base/v2/models/$model/infer" | grep '^TRAIND_BENCH')
    else
        line=$(BODY_FILE="$work/body.json" wrk -t"$threads" -c"$connections" -d"${duration}s" \
               -s "$here/predict.lua" "$base/v1/models/$model:predict" | grep '^TRAIND_BENCH')
    fi
    c1=$(http_ticks)
    reqs=$(echo "$line" | sed 's/.* requests=\([0-9]*\) .*/\1/')
    if [ -n "$job" ]; then
        s1=$(samples_total); t1=$(now)
        still_running "$job"
        drop_job "$job"
        rate=$(awk -v s0="$s0" -v s1="$s1" -v t0="$t0" -v t1="$t1" \
               'BEGIN { printf "%.0f", (s1 - s0) / (t1 - t0) }')
    fi
    echo "$(echo "$line" | sed 's/.* rps=\([^ ]*\) p50_ms=\([^ ]*\) p99_ms=\([^ ]*\) max_ms=[^ ]* non2xx=\([^ ]*\) socket_errors=\([^ ]*\)/\1 \2 \3 \4 \5/') $rate" \
         "$(awk -v c=$((c1 - c0)) -v t="$tck" -v n="$reqs" 'BEGIN { printf "%.1f", n ? c / t * 1e6 / n : 0 }')"
}

# A job that ended during a measurement would make it half idle.
still_running() { # ID
    local s
    s=$(api GET "/v1/jobs/$1" | jq -r .state)
    [ "$s" = running ] || die "job $1 is $s before the measurement ended: use a shorter --duration"
}

training_job() {
    local id
    id=$(new_job '{"name": "bench-train", "epochs": 1000}')
    wait_state "$id" running 60
    sleep 1 # past the first steps
    echo "$id"
}

# A browser tab: the job and its new metrics once a second.
browser() { # ID
    local next=0 m
    while :; do
        api GET "/v1/jobs/$1" >/dev/null
        m=$(api GET "/v1/jobs/$1/metrics?since_step=$next") || true
        next=$(echo "$m" | jq -r '.next_step // 0')
        sleep 1
    done
}

train_rate() { # ID [poll] -> samples/s over the duration
    local s0 s1 t0 t1
    if [ "${2:-}" = poll ]; then
        browser "$1" >/dev/null 2>&1 &
        poller=$!
    fi
    s0=$(samples_total); t0=$(now)
    sleep "$duration"
    s1=$(samples_total); t1=$(now)
    still_running "$1"
    if [ -n "$poller" ]; then
        kill "$poller" 2>/dev/null || true
        wait "$poller" 2>/dev/null || true
        poller=
    fi
    awk -v s0="$s0" -v s1="$s1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", (s1 - s0) / (t1 - t0) }'
}

median() { tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# v1 JSON and v2 binary alternate, $rounds times each (the order swapping
# every round), so that both see the same noise; medians of each figure,
# failures summed. -> "v1: rps p50 p99 bad err train us" then "v2: ..." on
# two lines (train: the job's samples/s meanwhile, 0 with no job; us: the
# HTTP threads' CPU microseconds a request)
predict_pair() {
    local a=() b=() r
    for r in $(seq "$rounds"); do
        if [ $((r % 2)) = 1 ]; then
            a+=("$(predict_bench)"); b+=("$(predict_bench v2)")
        else
            b+=("$(predict_bench v2)"); a+=("$(predict_bench)")
        fi
    done
    for set in a b; do
        local -n rows=$set
        local col out=
        for col in 1 2 3; do
            out="$out $(printf '%s\n' "${rows[@]}" | awk -v c=$col '{ print $c }' | tr '\n' ' ' | median)"
        done
        for col in 4 5; do
            out="$out $(printf '%s\n' "${rows[@]}" | awk -v c=$col '{ s += $c } END { print s }')"
        done
        for col in 6 7; do
            out="$out $(printf '%s\n' "${rows[@]}" | awk -v c=$col '{ print $c }' | tr '\n' ' ' | median)"
        done
        echo "$out"
    done
}

log "1/4 predictions, server idle (v1 JSON and v2 binary alternating, $rounds rounds of ${duration}s, $connections connections)"
busy=0
{ read -r idle_rps idle_p50 idle_p99 idle_bad idle_err _ idle_us
  read -r v2idle_rps v2idle_p50 v2idle_p99 v2idle_bad v2idle_err _ v2idle_us; } <<<"$(predict_pair)"

log "2/4 predictions while a job trains"
busy=1
{ read -r busy_rps busy_p50 busy_p99 busy_bad busy_err busy_train busy_us
  read -r v2busy_rps v2busy_p50 v2busy_p99 v2busy_bad v2busy_err v2busy_train v2busy_us; } \
  <<<"$(predict_pair)"
busy=0

log "3-4/4 training alone and with a browser polling once a second, $rounds rounds"
# A fresh job each round (one outlives two measurements); the order
# alternates so that neither side always measures a younger job.
alone_all=
polled_all=
for r in $(seq "$rounds"); do
    job=$(training_job)
    if [ $((r % 2)) = 1 ]; then
        a=$(train_rate "$job"); p=$(train_rate "$job" poll)
    else
        p=$(train_rate "$job" poll); a=$(train_rate "$job")
    fi
    drop_job "$job"
    alone_all="$alone_all $a"
    polled_all="$polled_all $p"
    log "  round $r: alone $a, polled $p samples/s"
done
alone=$(echo $alone_all | median)
polled=$(echo $polled_all | median)

workers=$(api GET /healthz | jq -r .workers)
train_nice=$(sed -n 's/.*train_nice[ =:]*\([0-9][0-9]*\).*/\1/p' "$work/stderr" | head -1)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$root/bench/out"
cat >"$root/bench/out/http-bench.json" <<JSON
{"cores": $(nproc), "workers": $workers, "http_threads": $HTTP_THREADS,
 "train_nice": ${train_nice:-null}, "load_average_before": "$load_before",
 "load_average_after": "$load_after",
 "wrk": {"threads": $threads, "connections": $connections, "seconds": $duration},
 "predict_idle": {"requests_per_second": $idle_rps, "p50_ms": $idle_p50, "p99_ms": $idle_p99,
                  "non_2xx": $idle_bad, "socket_errors": $idle_err,
                  "http_cpu_us_per_request": $idle_us},
 "predict_training": {"requests_per_second": $busy_rps, "p50_ms": $busy_p50, "p99_ms": $busy_p99,
                      "non_2xx": $busy_bad, "socket_errors": $busy_err,
                      "http_cpu_us_per_request": $busy_us,
                      "train_samples_per_second": $busy_train},
 "v2_binary_infer_idle": {"requests_per_second": $v2idle_rps, "p50_ms": $v2idle_p50,
                          "p99_ms": $v2idle_p99, "non_2xx": $v2idle_bad, "socket_errors": $v2idle_err,
                          "http_cpu_us_per_request": $v2idle_us},
 "v2_binary_infer_training": {"requests_per_second": $v2busy_rps, "p50_ms": $v2busy_p50,
                              "p99_ms": $v2busy_p99, "non_2xx": $v2busy_bad,
                              "socket_errors": $v2busy_err,
                              "http_cpu_us_per_request": $v2busy_us,
                              "train_samples_per_second": $v2busy_train},
 "train_samples_per_second": {"alone": $alone, "browser_polling": $polled,
                              "rounds_alone": [$(echo $alone_all | tr ' ' ',')],
                              "rounds_browser_polling": [$(echo $polled_all | tr ' ' ',')]}}
JSON

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
isa=$(grep -o -w -E 'avx512f|avx2|sse4_2' /proc/cpuinfo | sort -u | tr '\n' ' ')
printf '\ntraind HTTP bench: %s (%s), %s cores, workers %s, http_threads %s, train_nice %s; wrk -t%s -c%s, %ss each\n' \
    "$cpu" "$isa" "$(nproc)" "$workers" "$HTTP_THREADS" "${train_nice:-?}" "$threads" "$connections" "$duration"
printf 'load average before %s, after %s (other work on the machine skews every figure)\n\n' \
    "$load_before" "$load_after"
row() { printf '%-44s %10s %9s %9s %8s %9s\n' "$@"; }
row "single-image JSON predict" "req/s" "p50 ms" "p99 ms" "non-2xx" "HTTP us"
row "  server otherwise idle" "$idle_rps" "$idle_p50" "$idle_p99" "$((idle_bad + idle_err))" \
    "$idle_us"
row "  while a job trains" "$busy_rps" "$busy_p50" "$busy_p99" "$((busy_bad + busy_err))" \
    "$busy_us"
row "single-image v2 binary infer (FP32)" "req/s" "p50 ms" "p99 ms" "non-2xx" "HTTP us"
row "  server otherwise idle" "$v2idle_rps" "$v2idle_p50" "$v2idle_p99" \
    "$((v2idle_bad + v2idle_err))" "$v2idle_us"
row "  while a job trains" "$v2busy_rps" "$v2busy_p50" "$v2busy_p99" \
    "$((v2busy_bad + v2busy_err))" "$v2busy_us"
printf '%-44s %10s\n' "  v2 binary / v1 JSON req/s, idle | training" \
    "$(awk -v a="$v2idle_rps" -v b="$idle_rps" -v c="$v2busy_rps" -v d="$busy_rps" \
        'BEGIN { printf "%.2fx | %.2fx", a / b, c / d }')"
printf '%-44s %10s\n' "  v1 JSON / v2 binary HTTP CPU, idle | training" \
    "$(awk -v a="$idle_us" -v b="$v2idle_us" -v c="$busy_us" -v d="$v2busy_us" \
        'BEGIN { printf "%.2fx | %.2fx", (b > 0 ? a / b : 0), (d > 0 ? c / d : 0) }')"
printf '%-44s %10s\n' "  the job meanwhile, samples/s: v1 | v2" "$busy_train | $v2busy_train"
printf '(HTTP us: CPU microseconds the HTTP threads spent a request, medians)\n'
printf '\n%-44s %10s\n' "training, default digits model (median of $rounds)" "samples/s"
printf '%-44s %10s\n' "  no HTTP clients" "$alone"
printf '%-44s %10s %s\n' "  a browser polling status + metrics 1/s" "$polled" \
    "($(awk -v a="$alone" -v p="$polled" 'BEGIN { printf "%+.1f", 100 * (p - a) / a }')%)"
printf '\nwrote bench/out/http-bench.json\n'
