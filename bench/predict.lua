-- predict.lua - wrk script for bench/http-bench.sh: POSTs one body (read
-- once from $BODY_FILE, labelled $CONTENT_TYPE, default application/json)
-- to the URL wrk was given, and at the end prints one machine-readable line
-- with throughput, latency percentiles and every answer that was not a 200.
-- $INFER_HEADER_LENGTH, when set, is sent as Inference-Header-Content-Length
-- (the Open Inference Protocol's binary tensors).
--
--   BODY_FILE=body.json wrk -t2 -c16 -d10s -s bench/predict.lua URL

local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/json"
local hlen = os.getenv("INFER_HEADER_LENGTH")
if hlen and hlen ~= "" then
	wrk.headers["Inference-Header-Content-Length"] = hlen
end
local token = os.getenv("TOKEN")
if token and token ~= "" then
	wrk.headers["Authorization"] = "Bearer " .. token
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"TRAIND_BENCH requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
		"non2xx=%d socket_errors=%d\n",
		summary.requests, summary.requests / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
		e.status, e.connect + e.read + e.write + e.timeout))
end
