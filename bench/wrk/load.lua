-- wrk script for bench/bench_api.py: one request kind per run, chosen by environment variables.
--   BENCH_KIND     predict | customer | health
--   BENCH_INPUT    predict: a file with one JSON body per line; customer: one customer id per line
--   BENCH_API_KEY  the bearer key
-- Each thread cycles through the lines from its own offset. `done` prints one JSON line, prefixed
-- with "RESULT ", holding counts and latency percentiles in microseconds.

local kind = os.getenv("BENCH_KIND") or "health"
local key = os.getenv("BENCH_API_KEY") or ""
local lines = {}
local position = 0

local function read_lines(path)
  local out = {}
  for line in io.lines(path) do
    if #line > 0 then out[#out + 1] = line end
  end
  return out
end

function setup(thread)
  thread:set("offset", math.random(1, 1000))
end

function init(args)
  if kind ~= "health" then lines = read_lines(os.getenv("BENCH_INPUT")) end
  position = tonumber(offset) or 0
end

local headers = { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }

function request()
  position = position + 1
  if kind == "predict" then
    return wrk.format("POST", "/v1/predict", headers, lines[position % #lines + 1])
  elseif kind == "customer" then
    return wrk.format("GET", "/v1/customers/" .. lines[position % #lines + 1], headers)
  end
  return wrk.format("GET", "/health")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
