--[[
  Set a job's progress and announce it.

  KEYS: 1 job hash, 2 events, 3 meta
  ARGV: 1 job id, 2 progress JSON
  Returns: 0, or -1 when the job does not exist.
  Events: progress
]]
local rcall = redis.call
--- @include "reply_codes"
--- @include "get_max_events"
if rcall("EXISTS", KEYS[1]) == 0 then
  return Code.JOB_NOT_FOUND
end
rcall("HSET", KEYS[1], "progress", ARGV[2])
rcall("XADD", KEYS[2], "MAXLEN", "~", getMaxEvents(KEYS[3]), "*", "event", "progress",
  "jobId", ARGV[1], "data", ARGV[2])
return 0
