-- wrk script of the gateway benchmark (scripts/bench/gateway.ts): every request takes the next
-- path of a list read from a file, so the server reads a different block each time.
--
--   wrk -tT -c50 -d5s -H 'Accept: ...' -s wrk-paths.lua http://127.0.0.1:PORT -- PATHS_FILE [START [T]]
--
-- PATHS_FILE holds one path a line (/ipfs/{cid}, ...); START (default 0) is the index of the first
-- path, so successive runs on one server go on where the previous one stopped; T (default 1) is
-- wrk's thread count: thread t takes paths START+t, START+t+T, ... (together they walk the list
-- in order, each path once until it wraps). done() prints one line "WRK_JSON {...}" with the
-- counts and the latency percentiles in microseconds, for the benchmark to parse.

local threads = 0
local paths = {}
local i = 0
local step = 1

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  local file = args[1]
  if file == nil then error("wrk-paths.lua: give the paths file after --") end
  for line in io.lines(file) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  if #paths == 0 then error("wrk-paths.lua: no paths in " .. file) end
  local start = tonumber(args[2] or "0") or 0
  step = math.max(1, tonumber(args[3] or "1") or 1)
  -- i is the 0-based index of the next path.
  i = (start + (tid or 0)) % #paths
end

function request()
  local path = paths[i + 1]
  i = (i + step) % #paths
  return wrk.format(nil, path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%.0f,"durationUs":%.0f,"bytes":%.0f,' ..
    '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f},' ..
    '"latencyUs":{"mean":%.2f,"p50":%.0f,"p90":%.0f,"p99":%.0f,"max":%.0f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
