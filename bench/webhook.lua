-- wrk script for the webhook benchmark: every request is a distinct registry notification
-- (its own event id and digest) of a push of the fleet's base, so each one is a new event
-- the daemon must store durably before it answers. Prints a JSON summary at the end.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  host = os.getenv("BENCH_REGISTRY") or "127.0.0.1:5000"
  token = os.getenv("BENCH_TOKEN") or ""
  path = os.getenv("BENCH_PATH") or "/hooks/registry"
  headers = {["Content-Type"] = "application/vnd.docker.distribution.events.v1+json",
             ["Authorization"] = "Bearer " .. token}
end

function request()
  counter = counter + 1
  local digest = string.format("sha256:%016x%016x%032x", tid, counter, 0)
  local id = string.format("bench-%d-%d", tid, counter)
  local body = '{"events":[{"id":"' .. id .. '","timestamp":"2026-11-28T10:02:11.482Z","action":"push",' ..
    '"target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"' .. digest ..
    '","size":1609,"length":1609,"repository":"platform/base","url":"http://' .. host ..
    '/v2/platform/base/manifests/' .. digest .. '","tag":"1"},' ..
    '"request":{"id":"r-' .. id .. '","addr":"127.0.0.1:40000","host":"' .. host ..
    '","method":"PUT","useragent":"docker/26.1 go/go1.22 kernel/6.1"},"actor":{"name":"ci-bot"},' ..
    '"source":{"addr":"registry-0:5000","instanceID":"e4a1c2d3-0000-4000-8000-000000000000"}}]}'
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format('BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"errors_status":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, non2xx, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
