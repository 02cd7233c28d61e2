--[[
  Change when a delayed job runs: now + delay.

  KEYS: 1 delayed, 2 job hash, 3 events, 4 meta, 5 marker
  ARGV: 1 job id, 2 delay (ms), 3 now (ms)
  Returns: 0, -1 no such job, -3 the job is not delayed.
  Events: delayed (delay = the new due time)
]]
local rcall = redis.call
--- @include "reply_codes"
--- @include "get_max_events"
--- @include "get_delayed_score"
--- @include "add_delay_marker_if_needed"

local jobId = ARGV[1]
if rcall("EXISTS", KEYS[2]) == 0 then
  return Code.JOB_NOT_FOUND
end
if not rcall("ZSCORE", KEYS[1], jobId) then
  return Code.NOT_IN_STATE
end
rcall("ZREM", KEYS[1], jobId)
local score, due = getDelayedScore(KEYS[1], ARGV[3], ARGV[2])
rcall("HSET", KEYS[2], "delay", tonumber(ARGV[2]))
rcall("ZADD", KEYS[1], score, jobId)
rcall("XADD", KEYS[3], "MAXLEN", "~", getMaxEvents(KEYS[4]), "*", "event", "delayed",
  "jobId", jobId, "delay", due)
addDelayMarkerIfNeeded(KEYS[5], KEYS[1])
return 0
