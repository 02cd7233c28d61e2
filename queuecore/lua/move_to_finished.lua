--[[
  Finish a batch of jobs of one worker, then fetch its next jobs in the same
  call (one call for many jobs: the worker's speed). Each job takes one of
  five transitions out of active, by name, each in its include:
    complete   includes/transition_complete   to completed (moveToFinished)
    fail       includes/transition_fail       to failed for good (moveToFinished)
    retry      includes/transition_retry      back to wait now (retryJob)
    delay      includes/transition_delay      to delayed for the backoff (moveToDelayed)
    give_back  includes/transition_give_back  to the front of wait, no attempt
               counted (moveJobFromActiveToWait, for a RateLimitError); the call
               then fetches nothing and returns the limiter's TTL

  KEYS: 1 wait, 2 active, 3 prioritized, 4 events, 5 stalled, 6 limiter,
        7 delayed, 8 meta, 9 pc, 10 marker, 11 completed, 12 failed
  ARGV: 1-9 as move_to_active (3 = how many jobs to fetch afterwards, 0: none)
        10: msgpack array with one array per job, the fields of
        scripts.Outcome.packed() in its order: job id, lock token, transition,
        return value JSON or failed reason, stack trace JSON or "", keep count
        (-1 all, 0 none, n), keep age (s) or -1, attempts, backoff delay (ms),
        lifo (0/1), and for an outcome sent again because the reply to the
        call that carried it was lost: {atm, ats, stc} as the job was fetched
        (else an empty array)
        11: max metrics data points, or "" (no metrics)
  Returns: {codes, rate limit ttl, next delayed due, jobId1, jobHash1, ...}
    codes has one entry per job, named in includes/reply_codes: OK, or
    JOB_NOT_FOUND, LOCK_MISSING, LOCK_MISMATCH, NOT_IN_STATE, PENDING_CHILDREN
    or FAILED_CHILDREN (a complete of a flow parent: the job stays active and
    locked), or ALREADY_APPLIED (a resent outcome the lost call applied:
    nothing done).
  Flows: a child's final outcome updates its parent (includes/update_parent),
         which may release the parent in its own queue.
  Deduplication: a final finish frees the job's key <q>:de:<deid> and adds
         the next job kept in <q>:dn:<deid> (includes/finish_deduplication).
  Metrics: with ARGV[11], each final finish counts in <q>:metrics:completed
         or :failed (+ :data), as BullMQ's collectMetrics.
  Events: completed, failed, retries-exhausted, waiting, delayed, drained,
          added and waiting/delayed of a dedup next job,
          then those of move_to_active; a released parent's waiting or
          delayed in its queue's stream.
]]
local rcall = redis.call
--- @include "reply_codes"
--- @include "worker_keys"
--- @include "get_max_events"
--- @include "add_base_marker_if_needed"
--- @include "add_job_with_priority"
--- @include "promote_delayed_jobs"
--- @include "fetch_next_jobs"
--- @include "release_lock"
--- @include "already_finished"
--- @include "transition_complete"
--- @include "transition_fail"
--- @include "transition_retry"
--- @include "transition_delay"
--- @include "transition_give_back"

local k = workerKeys()
k.completed, k.failed = KEYS[11], KEYS[12]
local w = workerArgs()
local s = {now = w.timestamp, maxEvents = getMaxEvents(k.meta), maxMetrics = tonumber(ARGV[11])}
local codes = {}
-- one msgpack argument instead of ten per job: far less to encode per call
local outcomes = cmsgpack.unpack(ARGV[10])
local givenBack = false -- a give back: fetch nothing, report the limiter's TTL

for _, o in ipairs(outcomes) do
  local jobId, token, transition, value, stacktrace, keepCount, keepAge, attempts, delay,
    lifo, fetched = unpack(o)
  local jobKey = w.prefix .. jobId
  local code = Code.OK
  if rcall("EXISTS", jobKey) == 0 then
    code = Code.JOB_NOT_FOUND
  elseif transition == "complete" then
    code = completeRefused(jobKey) or Code.OK
  end
  if code == Code.OK then
    code = releaseLock(jobKey, jobId, token, k.stalled)
  end
  if (code == Code.JOB_NOT_FOUND or code == Code.LOCK_MISSING or code == Code.LOCK_MISMATCH)
      and #fetched == 3
      and alreadyFinished(jobKey, jobId, transition, keepCount, fetched, k.active,
        code ~= Code.JOB_NOT_FOUND) then
    code = Code.ALREADY_APPLIED
  end
  if code == Code.OK then
    if transition == "complete" then
      code = completeJob(k, w, s, jobId, jobKey, value, keepCount,
        keepAge >= 0 and keepAge or nil)
    elseif transition == "fail" then
      code = failJob(k, w, s, jobId, jobKey, value, stacktrace, keepCount,
        keepAge >= 0 and keepAge or nil, attempts)
    elseif transition == "retry" then
      code = retryJob(k, w, s, jobId, jobKey, value, stacktrace, lifo)
    elseif transition == "delay" then
      code = delayJob(k, w, s, jobId, jobKey, value, stacktrace, delay)
    else
      code = giveBackJob(k, w, s, jobId, jobKey)
    end
  end
  if transition == "give_back" then
    givenBack = true
  end
  codes[#codes + 1] = code
end

local reply = {0, 0}
if givenBack then
  local ttl = rcall("PTTL", k.limiter)
  reply[1] = ttl > 0 and ttl or 0
elseif w.count > 0 then
  reply = fetchNextJobs(k, w, s.maxEvents)
end
if #reply == 2 and rcall("LLEN", k.wait) == 0 and rcall("LLEN", k.active) == 0
    and rcall("ZCARD", k.prioritized) == 0 then
  rcall("XADD", k.events, "MAXLEN", "~", s.maxEvents, "*", "event", "drained")
end
table.insert(reply, 1, codes)
return reply
