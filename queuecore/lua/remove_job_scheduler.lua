--[[
  Remove a job scheduler (BullMQ's removeJobScheduler): its entry in `repeat`,
  its hash, and its pending iteration if that is delayed. An iteration already
  waiting or running is left to run (it adds no next one: the scheduler is gone).

  KEYS: 1 queue key prefix ("bull:name:")
  ARGV: 1 scheduler id
  Returns: 0 removed, 1 no such scheduler.
  Events: removed (prev delayed) for the pending iteration.
]]
local rcall = redis.call
--- @include "get_max_events"
--- @include "remove_job_keys"

local prefix, schedulerId = KEYS[1], ARGV[1]
local repeatKey = prefix .. "repeat"
local millis = rcall("ZSCORE", repeatKey, schedulerId)
if millis then
  local jobId = "repeat:" .. schedulerId .. ":" .. millis
  if rcall("ZREM", prefix .. "delayed", jobId) == 1 then
    removeJobKeys(prefix .. jobId)
    rcall("XADD", prefix .. "events", "MAXLEN", "~", getMaxEvents(prefix .. "meta"), "*",
      "event", "removed", "jobId", jobId, "prev", "delayed")
  end
end
if rcall("ZREM", repeatKey, schedulerId) == 1 then
  rcall("DEL", repeatKey .. ":" .. schedulerId)
  return 0
end
return 1
