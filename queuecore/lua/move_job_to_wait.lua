--[[
  Give an active job back: to the front of wait (or of its priority), without
  counting an attempt, and release its lock. For a worker that stops before
  the job could finish (BullMQ's moveJobFromActiveToWait).

  KEYS: 1 active, 2 wait, 3 prioritized, 4 events, 5 stalled, 6 marker,
        7 meta, 8 job hash
  ARGV: 1 job id, 2 lock token
  Returns: 0, -1 no such job, -2 lock missing, -3 not active, -6 locked by
           another token.
  Events: waiting (prev active)
]]
local rcall = redis.call
--- @include "reply_codes"
--- @include "get_max_events"
--- @include "is_paused_or_maxed"
--- @include "add_base_marker_if_needed"
--- @include "release_lock"
--- @include "put_back_in_wait"

local jobKey, jobId = KEYS[8], ARGV[1]
if rcall("EXISTS", jobKey) == 0 then
  return Code.JOB_NOT_FOUND
end
local code = releaseLock(jobKey, jobId, ARGV[2], KEYS[5])
if code ~= Code.OK then
  return code
end
if rcall("LREM", KEYS[1], 1, jobId) == 0 then
  return Code.NOT_IN_STATE
end
putBackInWait(jobId, jobKey, KEYS[2], KEYS[3], KEYS[6], KEYS[7], KEYS[1], KEYS[4],
  getMaxEvents(KEYS[7]))
return 0
