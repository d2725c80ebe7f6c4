-- wrk script for bench/web.py's burst: every line of a list is sent once, each on a
-- connection of its own while there are connections, so the list arrives at once.
--
--   wrk -t T -c C -d 120s -s bench/web_burst.lua URL -- LIST T
--
-- A line of LIST: METHOD<TAB>path<TAB>extra, where extra is a form body for a POST and an
-- ETag for a GET (sent as If-None-Match), or empty. Each thread takes every T-th line.
-- When a thread has every answer it stops and touches OUT.done<thread>, so the caller
-- can end wrk at once (wrk itself waits out -d); wrk's own latency figures are then
-- written to OUT as JSON, with the status codes, every form a page held (its action
-- and its form key, which the confirming round posts) and every link a POST was
-- answered for (a 303 back to the link).
local made, threads = 0, {}

function setup(thread)
  thread:set("id", made)
  made = made + 1
  table.insert(threads, thread)
end

function init(args)
  local every = tonumber(args[2])
  mine = {}
  local n = 0
  for line in io.lines(args[1]) do
    if n % every == id then table.insert(mine, line) end
    n = n + 1
  end
  scheduled, sent, answered = 0, 0, 0
  statuses, forms, moved = {}, {}, {}
end

-- wrk asks before each request how long to wait: nothing for a line still to send,
-- an hour once every line has gone (the thread stops long before)
function delay()
  if scheduled < #mine then
    scheduled = scheduled + 1
    return 0
  end
  return 3600000
end

-- wrk calls request() once more before the run, to check it: the index wraps, so every
-- line is still sent exactly once
function request()
  sent = sent + 1
  local line = mine[(sent - 1) % math.max(#mine, 1) + 1] or "GET\t/healthz\t"
  local method, path, extra = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
  if method == "POST" then
    local form = { ["Content-Type"] = "application/x-www-form-urlencoded" }
    return wrk.format("POST", path, form, extra)
  elseif extra ~= "" then
    return wrk.format("GET", path, { ["If-None-Match"] = extra })
  end
  return wrk.format("GET", path)
end

function response(status, headers, body)
  answered = answered + 1
  local code = tostring(status)
  statuses[code] = (statuses[code] or 0) + 1
  local action = body and body:match('action="(/a/[^"]+)"')
  local key = body and body:match('name="form_key" value="([^"]+)"')
  if action and key then forms[action] = key end
  local to = headers["location"] or headers["Location"]
  if status == 303 and to then moved[to:match("^[^?]*")] = 1 end
  if answered == #mine then
    io.open(os.getenv("WRK_OUT") .. ".done" .. id, "w"):close()
    wrk.thread:stop()
  end
end

local function pairs_json(t)
  local parts = {}
  for k, v in pairs(t) do
    local value = type(v) == "number" and tostring(v) or string.format('"%s"', v)
    table.insert(parts, string.format('"%s": %s', k, value))
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
  local codes, found, answered_to, lines = {}, {}, {}, 0
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get("statuses")) do codes[k] = (codes[k] or 0) + v end
    for k, v in pairs(thread:get("forms")) do found[k] = v end
    for k, v in pairs(thread:get("moved")) do answered_to[k] = v end
    lines = lines + thread:get("answered")
  end
  local e = summary.errors
  local out = io.open(os.getenv("WRK_OUT"), "w")
  out:write(string.format(
    '{"n": %d, "p50_ms": %.1f, "p95_ms": %.1f, "max_ms": %.1f, "errors": %d, ' ..
    '"statuses": %s, "forms": %s, "answered": %s}\n',
    lines, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency.max / 1000, e.connect + e.read + e.write + e.timeout,
    pairs_json(codes), pairs_json(found), pairs_json(answered_to)))
  out:close()
end
