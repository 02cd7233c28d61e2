--[[
  Recover stalled jobs: those flagged in the last check whose lock has since
  expired go back to the front of wait. At most one check runs per stalled
  interval across all workers (the stalled-check key). A job found stalled
  more than max stalled count times gets "defa" set, so the next worker to
  take it fails it (BullMQ's lazy failing). Then every active job is flagged
  for the next check.

  KEYS: 1 stalled, 2 wait, 3 active, 4 stalled-check, 5 meta, 6 marker,
        7 events, 8 repeat
  ARGV: 1 max stalled count, 2 queue key prefix, 3 now (ms),
        4 stalled interval (ms)
  Returns: the ids moved back to wait.
  Events: waiting (prev active), stalled
]]
local rcall = redis.call
--- @include "get_max_events"
--- @include "is_paused_or_maxed"
--- @include "add_base_marker_if_needed"
--- @include "increment_job_counter"

-- one command for "checked already?" and "this check now" (every worker of
-- an idle queue runs this each interval)
if not rcall("SET", KEYS[4], ARGV[3], "PX", ARGV[4], "NX") then
  return {}
end
local maxEvents = getMaxEvents(KEYS[5])
rcall("XTRIM", KEYS[7], "MAXLEN", "~", maxEvents)

local moved = {}
local flagged = rcall("SMEMBERS", KEYS[1])
if #flagged > 0 then
  rcall("DEL", KEYS[1])
  local pausedOrMaxed = isPausedOrMaxed(KEYS[5], KEYS[3])
  for _, jobId in ipairs(flagged) do
    if string.sub(jobId, 1, 2) == "0:" then
      rcall("LREM", KEYS[3], 1, jobId)
    else
      local jobKey = ARGV[2] .. jobId
      if rcall("EXISTS", jobKey .. ":lock") == 0 and rcall("LREM", KEYS[3], 1, jobId) > 0 then
        local stalledCount = incrementJobCounter(jobKey, "stc")
        if stalledCount > tonumber(ARGV[1]) then
          local schedulerId = rcall("HGET", jobKey, "rjk")
          if not (schedulerId and rcall("ZSCORE", KEYS[8], schedulerId)) then
            rcall("HSET", jobKey, "defa", "job stalled more than allowable limit")
          end
        end
        rcall("RPUSH", KEYS[2], jobId)
        addBaseMarkerIfNeeded(KEYS[6], pausedOrMaxed)
        rcall("XADD", KEYS[7], "MAXLEN", "~", maxEvents, "*", "event", "waiting",
          "jobId", jobId, "prev", "active")
        rcall("XADD", KEYS[7], "MAXLEN", "~", maxEvents, "*", "event", "stalled", "jobId", jobId)
        moved[#moved + 1] = jobId
      end
    end
  end
end

local active = rcall("LRANGE", KEYS[3], 0, -1)
for from = 1, #active, 7000 do
  rcall("SADD", KEYS[1], unpack(active, from, math.min(from + 6999, #active)))
end
return moved
