--[[
  Finish a batch of jobs of one worker, then fetch its next jobs in the same
  call. Each finished job takes one of BullMQ's transitions out of active:
    c: completed (moveToFinished)      f: failed for good (moveToFinished)
    r: retry now, back to wait (retryJob)
    d: retry after a backoff delay (moveToDelayed)
    w: back to the front of wait, no attempt counted (moveJobFromActiveToWait,
       for a RateLimitError); the call then fetches nothing and returns the
       limiter's TTL

  KEYS: 1 wait, 2 active, 3 prioritized, 4 events, 5 stalled, 6 limiter,
        7 delayed, 8 meta, 9 pc, 10 marker, 11 completed, 12 failed
  ARGV: 1-9 as move_to_active (3 = how many jobs to fetch afterwards, 0: none)
        10: msgpack array with one array per job: job id, lock token, kind
        (c/f/r/d/w), return value JSON or failed reason, stack trace JSON or "",
        keep count (-1 all, 0 none, n), keep age (s) or -1, attempts, backoff
        delay (ms), lifo (0/1), and for an outcome sent again because the
        reply to the call that carried it was lost: {atm, ats, stc} as the
        job was fetched (else an empty array)
        11: max metrics data points, or "" (no metrics)
  Returns: {codes, rate limit ttl, next delayed due, jobId1, jobHash1, ...}
    codes has one entry per finished job: 0 done, -1 job missing, -2 lock
    missing, -3 job not in active, -4 completing a parent with pending
    children, -6 lock held by another token, -9 completing a parent with
    failed children (-4 and -9 leave the job active and locked), 1 a
    resent outcome that the lost call had applied already (nothing done).
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
--- @include "worker_keys"
--- @include "get_max_events"
--- @include "is_paused_or_maxed"
--- @include "add_base_marker_if_needed"
--- @include "add_delay_marker_if_needed"
--- @include "add_job_with_priority"
--- @include "get_delayed_score"
--- @include "promote_delayed_jobs"
--- @include "increment_job_counter"
--- @include "fetch_next_jobs"
--- @include "release_lock"
--- @include "remove_job_keys"
--- @include "remove_old_finished"
--- @include "update_parent"
--- @include "remove_job_and_links"
--- @include "finish_deduplication"
--- @include "collect_metrics"
--- @include "put_back_in_wait"
--- @include "already_finished"

local k = workerKeys()
local w = workerArgs()
local maxEvents = getMaxEvents(k.meta)
local now = w.timestamp
local codes = {}
-- one msgpack argument instead of ten per job: far less to encode per call
local outcomes = cmsgpack.unpack(ARGV[10])
local maxMetrics = tonumber(ARGV[11])
local givenBack = false -- a "w" outcome: fetch nothing, report the limiter's TTL

for _, o in ipairs(outcomes) do
  local jobId, token, kind, value, stack = o[1], o[2], o[3], o[4], o[5]
  local jobKey = w.prefix .. jobId
  local code = 0
  if rcall("EXISTS", jobKey) == 0 then
    code = -1
  elseif kind == "c" and rcall("EXISTS", jobKey .. ":dependencies",
      jobKey .. ":unsuccessful") > 0 then
    -- a flow parent (Redis deletes empty sets: one call tells most jobs apart)
    code = rcall("EXISTS", jobKey .. ":dependencies") == 1 and -4 or -9
  else
    code = releaseLock(jobKey, jobId, token, k.stalled)
  end
  if (code == -1 or code == -2 or code == -6) and #o[11] == 3
      and alreadyFinished(jobKey, jobId, kind, o[6], o[11], k.active) then
    code = 1
  end
  if code == 0 then
    if kind ~= "c" and kind ~= "w" then
      if stack ~= "" then
        rcall("HSET", jobKey, "failedReason", value, "stacktrace", stack)
      else
        rcall("HSET", jobKey, "failedReason", value)
      end
    end
    if rcall("LREM", k.active, -1, jobId) == 0 then
      code = -3
    end
  end
  if kind == "w" then
    givenBack = true
    if code == 0 then
      putBackInWait(jobId, jobKey, k.wait, k.prioritized, k.marker, k.meta, k.active, k.events,
        maxEvents)
    end
  elseif code == 0 then
    local attemptsMade = incrementJobCounter(jobKey, "atm")
    if kind == "r" or kind == "d" then
      rcall("HDEL", jobKey, "cancelled")  -- a cancellation ends with the attempt it hit
    end
    if kind == "c" or kind == "f" then
      local keepCount, keepAge = o[6], o[7] >= 0 and o[7] or nil
      local target = kind == "c" and KEYS[11] or KEYS[12]
      local field = kind == "c" and "returnvalue" or "failedReason"
      -- one read for what finishing may have to follow up: dedup key, parent
      local links = rcall("HMGET", jobKey, "deid", "parentKey", "parent")
      if links[1] then
        finishDeduplication(w.prefix, links[1], jobId, now, maxEvents)
      end
      local parentKey, parent = decodeParent(links[2], links[3])
      if parent and rcall("EXISTS", parentKey) == 1 then
        if kind == "c" then
          childCompleted(jobKey, parentKey, parent, value, now)
        else
          childFailed(jobKey, parentKey, parent, value, now)
        end
      end
      if keepCount == 0 then
        -- as BullMQ: retention leaves a dedup key with a live ttl to expire
        removeJobAndLinks(w.prefix, jobId, jobKey, true)
      else
        rcall("ZADD", target, now, jobId)
        rcall("HSET", jobKey, field, value, "finishedOn", now)
        if kind == "f" then
          rcall("HDEL", jobKey, "defa")
        end
        removeOldFinished(target, w.prefix, now, keepCount, keepAge)
      end
      rcall("XADD", k.events, "MAXLEN", "~", maxEvents, "*", "event",
        kind == "c" and "completed" or "failed", "jobId", jobId, field, value, "prev", "active")
      if kind == "f" and attemptsMade >= o[8] then
        rcall("XADD", k.events, "MAXLEN", "~", maxEvents, "*", "event", "retries-exhausted",
          "jobId", jobId, "attemptsMade", attemptsMade)
      end
      if maxMetrics then
        collectMetrics(w.prefix .. (kind == "c" and "metrics:completed" or "metrics:failed"),
          maxMetrics, now)
      end
    elseif kind == "r" then
      local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
      if priority > 0 then
        addJobWithPriority(k.prioritized, priority, jobId, k.pc)
      else
        rcall(o[10] == 1 and "RPUSH" or "LPUSH", k.wait, jobId)
      end
      addBaseMarkerIfNeeded(k.marker, isPausedOrMaxed(k.meta, k.active))
      rcall("XADD", k.events, "MAXLEN", "~", maxEvents, "*", "event", "waiting",
        "jobId", jobId, "prev", "active")
    else
      local delay = o[9]
      local score, due = getDelayedScore(k.delayed, now, delay)
      rcall("HSET", jobKey, "delay", delay)
      rcall("ZADD", k.delayed, score, jobId)
      rcall("XADD", k.events, "MAXLEN", "~", maxEvents, "*", "event", "delayed",
        "jobId", jobId, "delay", due)
      addDelayMarkerIfNeeded(k.marker, k.delayed)
    end
  end
  codes[#codes + 1] = code
end

local reply = {0, 0}
if givenBack then
  local ttl = rcall("PTTL", k.limiter)
  reply[1] = ttl > 0 and ttl or 0
elseif w.count > 0 then
  reply = fetchNextJobs(k, w, maxEvents)
end
if #reply == 2 and rcall("LLEN", k.wait) == 0 and rcall("LLEN", k.active) == 0
    and rcall("ZCARD", k.prioritized) == 0 then
  rcall("XADD", k.events, "MAXLEN", "~", maxEvents, "*", "event", "drained")
end
table.insert(reply, 1, codes)
return reply
