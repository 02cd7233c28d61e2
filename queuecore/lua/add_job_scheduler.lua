--[[
  Create or replace a job scheduler and add its next iteration (BullMQ's
  addJobScheduler). An iteration of the scheduler still waiting to run
  (delayed, prioritized or wait) is removed first; an `every` scheduler whose
  interval did not change keeps that iteration's time.

  KEYS: 1 queue key prefix ("bull:name:")
  ARGV: 1 scheduler id
        2 next iteration ms of a pattern scheduler ("" for every: computed here)
        3 msgpack map of the scheduler: name, and those set of tz, pattern,
          every, limit, startDate, endDate, offset
        4 template data JSON ("{}": none)
        5 msgpack map of the template opts, BullMQ's names (stored as JSON)
        6 msgpack map of the iteration's opts (jobId and delay are set here)
        7 now (ms)
  Returns: {iteration job id, delay}, or (writing nothing) -10 when a
           pattern scheduler's iteration id is taken by a job other than the
           pending iteration (one that ran early, e.g. promoted: the caller
           tries the next cron time), -11 when 32 `every` slots in a row are.
  Events: added, then delayed or waiting (the iteration).
]]
local rcall = redis.call
--- @include "reply_codes"
--- @include "add_job_to_queue"
--- @include "remove_job_and_links"
--- @include "every_next_millis"
--- @include "store_job_scheduler"

local prefix, schedulerId = KEYS[1], ARGV[1]
local s = cmsgpack.unpack(ARGV[3])
local jobOpts = cmsgpack.unpack(ARGV[6])
local now = tonumber(ARGV[7])
local repeatKey = prefix .. "repeat"
local schedulerKey = repeatKey .. ":" .. schedulerId
local q = queueKeys(prefix)
q.maxEvents = getMaxEvents(q.meta)

local prevMillis = rcall("ZSCORE", repeatKey, schedulerId)
prevMillis = prevMillis and tonumber(prevMillis)
local every = s.every
local nextMillis = tonumber(ARGV[2])
local offset = s.offset or (jobOpts["repeat"] and jobOpts["repeat"]["offset"]) or 0
local newOffset = offset
local everyChanged = false
if every then
  local millis = prevMillis
  if prevMillis and tonumber(rcall("HGET", schedulerKey, "every")) ~= every then
    millis = nil  -- a new interval starts a new schedule
    everyChanged = true
  end
  nextMillis, newOffset = everyNextMillis(millis, every, now, offset, s.startDate)
end

-- The pending iteration is replaced if it has not started yet (delayed,
-- prioritized or waiting); every check comes before the first write, so a
-- refused upsert leaves the scheduler and its pending iteration as they were.
local pendingId = prevMillis and ("repeat:" .. schedulerId .. ":" .. prevMillis)
-- pendingIn: the state list holding it (searched once, removed from later)
local pendingIn = nil
if pendingId and rcall("EXISTS", prefix .. pendingId) == 1 then
  if rcall("ZSCORE", q.delayed, pendingId) then
    pendingIn = "delayed"
  elseif rcall("ZSCORE", q.prioritized, pendingId) then
    pendingIn = "prioritized"
  elseif rcall("LPOS", q.wait, pendingId) then
    pendingIn = "wait"
  elseif rcall("LPOS", prefix .. "paused", pendingId) then
    pendingIn = "paused"
  end
end
local replacing = pendingIn ~= nil
if replacing then
  if every and not everyChanged then
    nextMillis = prevMillis
  end
else
  s.offset = newOffset
end

-- A time held by another job (an iteration that ran early, e.g. promoted, or
-- one of an earlier scheduler of this id): a pattern's caller tries its next
-- cron time, an `every` schedule moves on to its next free slot.
local function taken(millis)
  local id = "repeat:" .. schedulerId .. ":" .. millis
  return not (replacing and id == pendingId) and rcall("EXISTS", prefix .. id) == 1
end
if taken(nextMillis) then
  if not every then
    return Code.SCHEDULER_ITERATION_EXISTS
  end
  local scanned, free = 0, false
  repeat
    nextMillis = nextMillis + every
    scanned = scanned + 1
    free = not taken(nextMillis)
  until free or scanned >= 32
  if not free then
    return Code.SCHEDULER_SLOTS_BUSY
  end
end

if replacing then
  if pendingIn == "delayed" then
    rcall("ZREM", q.delayed, pendingId)
  elseif pendingIn == "prioritized" then
    rcall("ZREM", q.prioritized, pendingId)
  elseif pendingIn == "wait" then
    rcall("LREM", q.wait, 1, pendingId)
  else
    rcall("LREM", prefix .. "paused", 1, pendingId)
  end
  removeJobAndLinks(prefix, pendingId, prefix .. pendingId)
end
local jobId = "repeat:" .. schedulerId .. ":" .. nextMillis
storeJobScheduler(repeatKey, schedulerId, nextMillis, s, ARGV[4],
  cjson.encode(cmsgpack.unpack(ARGV[5])))
local addedId, delay = addIteration(q, schedulerId, jobId, s.name, ARGV[4], jobOpts, nextMillis,
  now)
return {addedId, delay}
