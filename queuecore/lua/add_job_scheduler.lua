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
  Returns: {iteration job id, delay}, or -10 when a pattern scheduler's
           iteration id is taken by a job other than the pending iteration
           (one that ran early, e.g. promoted; the caller tries the next cron
           time; nothing is written), -11 when 32 `every` slots in a row are.
  Events: added, then delayed or waiting (the iteration).
]]
local rcall = redis.call
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

-- The pending iteration, if it has not started yet, is replaced.
local function removePending(jobId)
  local jobKey = prefix .. jobId
  if rcall("ZREM", q.delayed, jobId) == 1 or rcall("ZREM", q.prioritized, jobId) == 1
      or rcall("LREM", q.wait, 1, jobId) > 0 or rcall("LREM", prefix .. "paused", 1, jobId) > 0 then
    removeJobAndLinks(prefix, jobId, jobKey)
    return true
  end
  return false
end

local pendingId = prevMillis and ("repeat:" .. schedulerId .. ":" .. prevMillis)
-- A pattern's time held by a job other than the pending iteration (one that
-- ran early: promoted) is refused before anything changes, so the pending
-- iteration survives and the caller asks again with the next cron time.
if not every then
  local wanted = "repeat:" .. schedulerId .. ":" .. nextMillis
  if wanted ~= pendingId and rcall("EXISTS", prefix .. wanted) == 1 then
    return -10
  end
end

local removed = false
if pendingId and rcall("EXISTS", prefix .. pendingId) == 1 then
  removed = removePending(pendingId)
end
if removed then
  if every and not everyChanged then
    nextMillis = prevMillis
  end
else
  s.offset = newOffset
end

local jobId = "repeat:" .. schedulerId .. ":" .. nextMillis
if rcall("EXISTS", prefix .. jobId) == 1 then
  if not every then
    return -10  -- the pending iteration itself, running or finished: nothing was removed
  end
  -- finished iterations of an earlier scheduler of this id may hold some slots
  local scanned = 0
  repeat
    nextMillis = nextMillis + every
    jobId = "repeat:" .. schedulerId .. ":" .. nextMillis
    scanned = scanned + 1
  until rcall("EXISTS", prefix .. jobId) == 0 or scanned >= 32
  if rcall("EXISTS", prefix .. jobId) == 1 then
    return -11
  end
end

storeJobScheduler(repeatKey, schedulerId, nextMillis, s, ARGV[4],
  cjson.encode(cmsgpack.unpack(ARGV[5])))
local addedId, delay = addIteration(q, schedulerId, jobId, s.name, ARGV[4], jobOpts, nextMillis,
  now)
return {addedId, delay}
