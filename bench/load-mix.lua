-- load-mix.lua - the request mix of bench/load-fault.sh, for wrk.
--
-- Each request is drawn at random: 45 % single-image predictions, 20 %
-- job status and 20 % loss-curve polls of the training job, 5 % job lists,
-- 8 % pause/resume of queued jobs, 1.5 % new jobs, 0.5 % cancels. Every
-- answer's status is counted; done() prints one machine-readable line.
--
--   MODEL=j-.. RUNNING=j-.. POOL=j-..,j-.. BODY_FILE=f wrk -s bench/load-mix.lua URL

local threads = {}

function setup(thread)
	thread:set("seed", #threads + 1)
	table.insert(threads, thread)
end

local model, running, pool, body

function init(args)
	model = os.getenv("MODEL")
	running = os.getenv("RUNNING")
	pool = {}
	for id in string.gmatch(os.getenv("POOL") or "", "[^,]+") do
		table.insert(pool, id)
	end
	local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
	body = f:read("*a")
	f:close()
	counts = {}
	math.randomseed(os.time() * 100 + (seed or 0))
end

local json = {["Content-Type"] = "application/json"}

function request()
	local r = math.random()
	local any = pool[math.random(#pool)]
	if r < 0.45 then
		return wrk.format("POST", "/v1/models/" .. model .. ":predict", json, body)
	elseif r < 0.65 then
		return wrk.format("GET", "/v1/jobs/" .. running)
	elseif r < 0.85 then
		return wrk.format("GET", "/v1/jobs/" .. running .. "/metrics?since_step=" ..
			math.random(0, 20000) .. "&max_points=200")
	elseif r < 0.90 then
		return wrk.format("GET", "/v1/jobs?limit=20")
	elseif r < 0.94 then
		return wrk.format("POST", "/v1/jobs/" .. any .. ":pause")
	elseif r < 0.98 then
		return wrk.format("POST", "/v1/jobs/" .. any .. ":resume")
	elseif r < 0.995 then
		return wrk.format("POST", "/v1/jobs", json,
			'{"hidden": [16], "epochs": 1, "augment": "none"}')
	else
		return wrk.format("POST", "/v1/jobs/" .. any .. ":cancel")
	end
end

function response(status, headers, resp_body)
	counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
	local total, codes = {}, {}
	for _, t in ipairs(threads) do
		for k, v in pairs(t:get("counts")) do
			total[k] = (total[k] or 0) + v
		end
	end
	for k, v in pairs(total) do
		table.insert(codes, k .. ":" .. v)
	end
	table.sort(codes)
	local e = summary.errors
	io.write(string.format(
		"TRAIND_LOAD requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
		"socket_errors=%d codes=%s\n",
		summary.requests, summary.requests / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
		e.connect + e.read + e.write + e.timeout, table.concat(codes, ",")))
end
