--[[
  Change a job's priority, moving it between wait and prioritized if it is
  waiting. Jobs in other states only get the new field. No event (BullMQ has
  none for this).

  KEYS: 1 wait, 2 prioritized, 3 pc, 4 marker, 5 meta, 6 active, 7 job hash
  ARGV: 1 job id, 2 priority, 3 "1" for lifo
  Returns: 0, or -1 when the job does not exist.
]]
local rcall = redis.call
--- @include "reply_codes"
--- @include "is_paused_or_maxed"
--- @include "add_base_marker_if_needed"
--- @include "add_job_with_priority"

local jobId, priority, lifo = ARGV[1], tonumber(ARGV[2]), ARGV[3] == "1"
if rcall("EXISTS", KEYS[7]) == 0 then
  return Code.JOB_NOT_FOUND
end
local waiting = rcall("ZREM", KEYS[2], jobId) == 1 or rcall("LREM", KEYS[1], 0, jobId) > 0
if waiting then
  if priority == 0 then
    rcall(lifo and "RPUSH" or "LPUSH", KEYS[1], jobId)
  elseif lifo then
    rcall("ZADD", KEYS[2], priority * 0x100000000, jobId)
  else
    addJobWithPriority(KEYS[2], priority, jobId, KEYS[3])
  end
  addBaseMarkerIfNeeded(KEYS[4], isPausedOrMaxed(KEYS[5], KEYS[6]))
end
rcall("HSET", KEYS[7], "priority", priority)
return 0
