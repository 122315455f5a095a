-- wrk script of the load benchmark (tests/perf/test_load_benchmark.py): counts the
-- answers that are not 2xx and prints one machine-readable line at the end.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  codes = ""  -- each status that was not 2xx, once: ",302,500"
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if not string.find(codes .. ",", "," .. status .. ",", 1, true) then
      codes = codes .. "," .. status
    end
  end
end

function done(summary, latency, requests)
  local bad, seen = 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    seen = seen .. thread:get("codes")
  end
  local e = summary.errors
  -- Latencies in microseconds; duration in microseconds.
  io.write(string.format(
    "WRK requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d non2xx=%d " ..
    "connect=%d read=%d write=%d timeout=%d codes=%s\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, bad, e.connect, e.read, e.write, e.timeout, seen == "" and "-" or seen))
end
