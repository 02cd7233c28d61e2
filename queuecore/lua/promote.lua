--[[
  Promote one delayed job to run now.

  KEYS: 1 delayed, 2 wait, 3 prioritized, 4 pc, 5 marker, 6 meta, 7 active,
        8 events, 9 job hash
  ARGV: 1 job id
  Returns: 0, or -3 when the job is not delayed.
  Events: waiting (prev delayed)
]]
local rcall = redis.call
--- @include "reply_codes"
--- @include "get_max_events"
--- @include "is_paused_or_maxed"
--- @include "add_base_marker_if_needed"
--- @include "add_job_with_priority"

local jobId = ARGV[1]
if rcall("ZREM", KEYS[1], jobId) == 0 then
  return Code.NOT_IN_STATE
end
local priority = tonumber(rcall("HGET", KEYS[9], "priority")) or 0
if priority > 0 then
  addJobWithPriority(KEYS[3], priority, jobId, KEYS[4])
else
  rcall("LPUSH", KEYS[2], jobId)
end
addBaseMarkerIfNeeded(KEYS[5], isPausedOrMaxed(KEYS[6], KEYS[7]))
rcall("HSET", KEYS[9], "delay", 0)
rcall("XADD", KEYS[8], "MAXLEN", "~", getMaxEvents(KEYS[6]), "*", "event", "waiting",
  "jobId", jobId, "prev", "delayed")
return 0
