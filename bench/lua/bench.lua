-- wrk script of the bench (LuaJIT). Configured through the environment, read by bench/_wrk.py:
--   BENCH_METHOD      GET or POST
--   BENCH_PATH        the path; with BENCH_IDS_FILE a template whose %s is replaced by each id
--   BENCH_TOKEN       a bearer token for the Authorization header (optional)
--   BENCH_BODY_FILE   the request body, sent as application/json (optional)
--   BENCH_IDS_FILE    one id per line: each is used exactly once, then the thread stops
--   BENCH_DONE_FILE   written when every id got its answer, so the caller can end wrk early
-- done() prints one line "BENCH_JSON {...}" with the figures the caller reads.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec *spec);
]]
local spec = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, spec) -- CLOCK_MONOTONIC
  return tonumber(spec.tv_sec) * 1000000 + tonumber(spec.tv_nsec) / 1000
end

local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local token = os.getenv("BENCH_TOKEN")
local body_file = os.getenv("BENCH_BODY_FILE")
local ids_file = os.getenv("BENCH_IDS_FILE")
local done_file = os.getenv("BENCH_DONE_FILE")

local function read_all(name)
  local handle = assert(io.open(name, "rb"))
  local content = handle:read("*a")
  handle:close()
  return content
end

wrk.method = method
wrk.path = path
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
if body_file and body_file ~= "" then
  wrk.body = read_all(body_file)
  wrk.headers["Content-Type"] = "application/json"
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

-- Counted mode: every id once. Per-thread globals, read back in done() with thread:get.
ids = {}
issued = 0
answered = 0
ok = 0
first_us = 0
last_us = 0

if ids_file and ids_file ~= "" then
  for line in io.lines(ids_file) do
    if line ~= "" then
      table.insert(ids, line)
    end
  end

  -- wrk calls request() once before the run to check the script, and delay() before every
  -- request of the run: only a request() after a delay() spends an id.
  local running = false

  function delay()
    running = true
    -- Every id is out: park this connection until the thread stops.
    if issued >= #ids then
      return 3600000
    end
    return 0
  end

  function request()
    if not running then
      return wrk.format(method, string.format(path, ids[1]))
    end
    issued = issued + 1
    if first_us == 0 then
      first_us = now_us()
    end
    local id = ids[math.min(issued, #ids)]
    return wrk.format(method, string.format(path, id))
  end

  function response(status, headers, body)
    answered = answered + 1
    if status >= 200 and status < 300 then
      ok = ok + 1
    end
    if answered >= #ids then
      last_us = now_us()
      if done_file and done_file ~= "" then
        local handle = io.open(done_file, "w")
        if handle then
          handle:write("done\n")
          handle:close()
        end
      end
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  local counted_ok, counted, first, last = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    counted_ok = counted_ok + (thread:get("ok") or 0)
    counted = counted + (thread:get("answered") or 0)
    local f = thread:get("first_us") or 0
    local l = thread:get("last_us") or 0
    if f > 0 and (first == 0 or f < first) then
      first = f
    end
    if l > last then
      last = l
    end
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d},' ..
    '"counted":{"answered":%d,"ok":%d,"first_us":%.0f,"last_us":%.0f}}\n',
    summary.duration, summary.requests, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, counted, counted_ok, first, last))
end
