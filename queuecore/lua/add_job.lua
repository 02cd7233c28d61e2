--[[
  Add jobs: store each job hash and place it in wait, prioritized, delayed or
  (a flow parent) waiting-children. One call adds a whole batch: Queue.add is
  a batch of one, add_bulk one batch, a flow one batch over its queues, parent
  before children, so a flow is stored whole or not at all.

  KEYS: the queue key prefix ("bull:name:") of each queue the batch touches
        (declared so that a cluster routes the call; the queues of one call
        must share a hash tag)
  ARGV: 1 msgpack array of jobs, each a map: q (1-based index into KEYS), id
        (custom id or ""), name, ts, data (JSON), opts (JSON), delay,
        priority, lifo, for flows pk, pj, pdk, wc, and de for deduplication
        (see add_job_to_queue)
  Returns: one entry per job: the job id (the existing one for a duplicate
           custom id, the owner's for a deduplicated add). When a job is
           refused nothing is written: the entries are 0 but the refused
           job's, -5 when its parent job does not exist, -7 when a job with
           its id has another parent; a key of the wrong type (written by
           someone else) is a WRONGTYPE error reply.
  Events: added, then waiting, delayed or waiting-children; duplicated for an
          existing custom id; deduplicated (and removed, for a replaced
          delayed job) on a deduplication hit.
]]
local rcall = redis.call
--- @include "add_job_to_queue"
--- @include "check_add_jobs"

local jobs = cmsgpack.unpack(ARGV[1])
local queues = {}  -- each queue's keys, as the checks made them
local err, refused, code = checkAddJobs(jobs, KEYS, queues)
if err then
  return err
elseif refused then
  local results = {}
  for i = 1, #jobs do
    results[i] = 0
  end
  results[refused] = code
  return results
end

local results = {}
for _, j in ipairs(jobs) do
  local q = queues[j.q]
  if not q.maxEvents then  -- not set yet: getMaxEvents writes BullMQ's default
    q.maxEvents = getMaxEvents(q.meta)
  end
  results[#results + 1] = addJobToQueue(q, j)
end
return results
