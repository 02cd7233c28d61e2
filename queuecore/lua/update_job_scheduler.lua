--[[
  Add a scheduler's next iteration when a worker starts the current one
  (BullMQ's updateJobScheduler, called from moveToActive's client side). Only
  the current iteration (id "repeat:<id>:<score in repeat>") produces the
  next one, so a retried or stalled iteration starting again adds nothing.

  KEYS: 1 queue key prefix ("bull:name:")
  ARGV: 1 scheduler id
        2 next iteration ms of a pattern scheduler ("" for every: computed here
          from the current score, the stored every, offset and startDate)
        3 msgpack map of the iteration's opts (jobId and delay are set here)
        4 now (ms)
        5 id of the job that starts (the producer)
  Returns: the new iteration's id; 0 when nothing was added (no such
           scheduler, the producer is not the current iteration, or the next
           iteration exists: a `duplicated` event); 1 when the scheduler's
           hash is not a BullMQ 6 scheduler (no `ic`: v5 repeatable-job data).
  Events: added, then delayed or waiting; or duplicated.
]]
local rcall = redis.call
--- @include "add_job_to_queue"
--- @include "every_next_millis"
--- @include "store_job_scheduler"

local prefix, schedulerId, producerId = KEYS[1], ARGV[1], ARGV[5]
local jobOpts = cmsgpack.unpack(ARGV[3])
local now = tonumber(ARGV[4])
local repeatKey = prefix .. "repeat"
local schedulerKey = repeatKey .. ":" .. schedulerId

local prevMillis = rcall("ZSCORE", repeatKey, schedulerId)
if not prevMillis then
  return 0
end
prevMillis = tonumber(prevMillis)
local h = rcall("HMGET", schedulerKey, "name", "data", "every", "startDate", "offset", "ic")
if not h[6] then
  return 1
end
local repeatOpts = jobOpts["repeat"]
local every = tonumber(h[3]) or (repeatOpts and tonumber(repeatOpts["every"]))
local nextMillis = tonumber(ARGV[2])
if every then
  local offset = h[5] or (repeatOpts and repeatOpts["offset"]) or 0
  nextMillis = everyNextMillis(prevMillis, every, now, offset, h[4])
end
if not nextMillis or producerId ~= "repeat:" .. schedulerId .. ":" .. prevMillis then
  return 0
end

local q = queueKeys(prefix)
q.maxEvents = getMaxEvents(q.meta)
local jobId = "repeat:" .. schedulerId .. ":" .. nextMillis
if rcall("EXISTS", prefix .. jobId) == 1 then
  rcall("XADD", q.events, "MAXLEN", "~", q.maxEvents, "*", "event", "duplicated", "jobId", jobId)
  return 0
end
rcall("ZADD", repeatKey, nextMillis, schedulerId)
rcall("HINCRBY", schedulerKey, "ic", 1)
return (addIteration(q, schedulerId, jobId, h[1], h[2] or "{}", jobOpts, nextMillis, now))
