-- BullMQ's collectMetrics, per finished job: `count` in the metrics hash counts
-- every finish; when a finish lands in a later minute than prevTS, the jobs
-- finished since prevTS become one data point (plus a zero per idle minute in
-- between), pushed at the head of <metrics key>:data, kept to maxDataPoints.
local function collectMetrics(metricsKey, maxDataPoints, timestamp)
  local count = rcall("HINCRBY", metricsKey, "count", 1) - 1
  local prevTS = rcall("HGET", metricsKey, "prevTS")
  if not prevTS then
    rcall("HSET", metricsKey, "prevTS", timestamp, "prevCount", 0)
    return
  end
  local n = math.min(math.floor(timestamp / 60000) - math.floor(tonumber(prevTS) / 60000),
    maxDataPoints)
  if n > 0 then
    local dataKey = metricsKey .. ":data"
    local points = {count - (tonumber(rcall("HGET", metricsKey, "prevCount")) or 0)}
    for i = 2, n do
      points[i] = 0
    end
    -- the zeros (the newer, idle minutes) go on top of the delta
    for from = 1, n, 7000 do
      rcall("LPUSH", dataKey, unpack(points, from, math.min(from + 6999, n)))
    end
    rcall("LTRIM", dataKey, 0, maxDataPoints - 1)
    rcall("HSET", metricsKey, "prevCount", count, "prevTS", timestamp)
  end
end
