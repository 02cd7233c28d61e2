--[[
  Remove one job from whatever state it is in, with its keys and, as BullMQ's
  removeJob does, its children (pending, processed and failed, recursively,
  in whatever queue they are). A removed child that was its parent's last
  pending dependency releases the parent.

  KEYS: 1 job hash, 2 events, 3 meta
  ARGV: 1 queue key prefix, 2 job id, 3 now (ms)
  Returns: 1 removed, 0 the job or one of its pending children is locked
           (being processed), -1 no such job, -8 it is the pending iteration
           of a job scheduler.
  Events: removed (prev = the state it was in), in each removed job's queue
]]
local rcall = redis.call
--- @include "reply_codes"
--- @include "get_max_events"
--- @include "remove_job_from_any_state"
--- @include "is_scheduler_iteration"
--- @include "remove_job_and_links"

local prefix, jobId, jobKey, now = ARGV[1], ARGV[2], KEYS[1], tonumber(ARGV[3])

local function isLocked(key)
  if rcall("EXISTS", key .. ":lock") == 1 then
    return true
  end
  for _, childKey in ipairs(rcall("SMEMBERS", key .. ":dependencies")) do
    if isLocked(childKey) then
      return true
    end
  end
  return false
end

local function removeTree(base, id, key)
  local children = rcall("SMEMBERS", key .. ":dependencies")
  for _, group in ipairs({rcall("HKEYS", key .. ":processed"), rcall("HKEYS", key .. ":failed"),
      rcall("ZRANGE", key .. ":unsuccessful", 0, -1)}) do
    for _, childKey in ipairs(group) do
      children[#children + 1] = childKey
    end
  end
  for _, childKey in ipairs(children) do
    -- a child key is "<its queue prefix><id>": ids of flow nodes hold no ":"
    local childId = string.match(childKey, ".*:(.*)")
    if childId and rcall("EXISTS", childKey) == 1 then
      removeTree(string.sub(childKey, 1, #childKey - #childId), childId, childKey)
    end
  end
  local prev = removeJobFromAnyState(base, id)
  removeDeduplicationKey(base, key, id)
  removeJobKeys(key)
  rcall("XADD", base .. "events", "MAXLEN", "~", getMaxEvents(base .. "meta"), "*",
    "event", "removed", "jobId", id, "prev", prev)
end

if rcall("EXISTS", jobKey) == 0 then
  return Code.JOB_NOT_FOUND
end
if isSchedulerIteration(prefix, jobId, jobKey) then
  return Code.SCHEDULER_ITERATION
end
if isLocked(jobKey) then
  return 0
end
unlinkFromParent(jobKey, now)
removeTree(prefix, jobId, jobKey)
return 1
