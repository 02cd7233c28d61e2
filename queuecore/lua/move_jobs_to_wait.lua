--[[
  Move jobs in bulk back to wait: Queue.retry_jobs (from completed or failed,
  finished no later than a timestamp) and Queue.promote_jobs (from delayed).
  Priority is ignored, as in BullMQ: every job goes to wait.

  KEYS: 1 state set, 2 wait, 3 marker, 4 meta, 5 active, 6 events
  ARGV: 1 queue key prefix, 2 state name, 3 how many at most, 4 max score
  Returns: how many jobs were moved (the caller repeats until 0).
  Events: waiting (prev = the state)
]]
local rcall = redis.call
--- @include "get_max_events"
--- @include "is_paused_or_maxed"
--- @include "add_base_marker_if_needed"

local prefix, state = ARGV[1], ARGV[2]
local ids = rcall("ZRANGEBYSCORE", KEYS[1], 0, ARGV[4], "LIMIT", 0, tonumber(ARGV[3]))
if #ids == 0 then
  return 0
end
local maxEvents = getMaxEvents(KEYS[4])
for _, jobId in ipairs(ids) do
  local jobKey = prefix .. jobId
  if state == "failed" then
    rcall("HDEL", jobKey, "finishedOn", "processedOn", "failedReason")
  elseif state == "completed" then
    rcall("HDEL", jobKey, "finishedOn", "processedOn", "returnvalue")
  end
  rcall("XADD", KEYS[6], "MAXLEN", "~", maxEvents, "*", "event", "waiting",
    "jobId", jobId, "prev", state)
end
for from = 1, #ids, 7000 do
  local last = math.min(from + 6999, #ids)
  rcall("ZREM", KEYS[1], unpack(ids, from, last))
  rcall("LPUSH", KEYS[2], unpack(ids, from, last))
end
addBaseMarkerIfNeeded(KEYS[3], isPausedOrMaxed(KEYS[4], KEYS[5]))
return #ids
