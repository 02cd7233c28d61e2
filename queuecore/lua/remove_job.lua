--[[
  Remove one job from whatever state it is in, with its keys.

  KEYS: 1 job hash, 2 events, 3 meta
  ARGV: 1 queue key prefix, 2 job id
  Returns: 1 removed, 0 the job is locked (being processed), -1 no such job,
           -8 it is the pending iteration of a job scheduler.
  Events: removed (prev = the state it was in)
]]
local rcall = redis.call
--- @include "get_max_events"
--- @include "remove_job_from_any_state"
--- @include "is_scheduler_iteration"
--- @include "remove_job_and_links"

local prefix, jobId, jobKey = ARGV[1], ARGV[2], KEYS[1]
if rcall("EXISTS", jobKey) == 0 then
  return -1
end
if isSchedulerIteration(prefix, jobId, jobKey) then
  return -8
end
if rcall("EXISTS", jobKey .. ":lock") == 1 then
  return 0
end
local prev = removeJobFromAnyState(prefix, jobId)
removeJobAndLinks(prefix, jobId, jobKey)
rcall("XADD", KEYS[2], "MAXLEN", "~", getMaxEvents(KEYS[3]), "*", "event", "removed",
  "jobId", jobId, "prev", prev)
return 1
