--[[
  Run a finished job again (Job.retry): from completed or failed back to wait
  (or prioritized, for a job with a priority, as BullMQ 6.7 does).

  KEYS: 1 job hash, 2 state set (completed or failed), 3 wait, 4 marker,
        5 meta, 6 active, 7 events, 8 prioritized, 9 pc
  ARGV: 1 job id, 2 state name, 3 "1" if lifo, 4 "1" to reset attempts made,
        5 "1" to reset attempts started
  Returns: 1, -1 no such job, -3 the job is not in that state.
  Events: waiting (prev = the state)
]]
local rcall = redis.call
--- @include "reply_codes"
--- @include "get_max_events"
--- @include "is_paused_or_maxed"
--- @include "add_base_marker_if_needed"
--- @include "add_job_with_priority"

local jobKey, jobId = KEYS[1], ARGV[1]
if rcall("EXISTS", jobKey) == 0 then
  return Code.JOB_NOT_FOUND
end
if rcall("ZREM", KEYS[2], jobId) == 0 then
  return Code.NOT_IN_STATE
end
rcall("HDEL", jobKey, "finishedOn", "processedOn", "cancelled",
  ARGV[2] == "failed" and "failedReason" or "returnvalue")
if ARGV[4] == "1" then rcall("HDEL", jobKey, "atm", "attemptsMade") end
if ARGV[5] == "1" then rcall("HDEL", jobKey, "ats") end
local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
if priority > 0 then
  addJobWithPriority(KEYS[8], priority, jobId, KEYS[9])
else
  rcall(ARGV[3] == "1" and "RPUSH" or "LPUSH", KEYS[3], jobId)
end
addBaseMarkerIfNeeded(KEYS[4], isPausedOrMaxed(KEYS[5], KEYS[6]))
local parentKey = rcall("HGET", jobKey, "parentKey")
if parentKey and rcall("EXISTS", parentKey) == 1 then
  local restored = 0
  if ARGV[2] == "failed" then
    restored = rcall("ZREM", parentKey .. ":unsuccessful", jobKey)
      + rcall("HDEL", parentKey .. ":failed", jobKey)
  else
    restored = rcall("HDEL", parentKey .. ":processed", jobKey)
  end
  if restored > 0 then
    rcall("SADD", parentKey .. ":dependencies", jobKey)
  end
end
rcall("XADD", KEYS[7], "MAXLEN", "~", getMaxEvents(KEYS[5]), "*", "event", "waiting",
  "jobId", jobId, "prev", ARGV[2])
return 1
