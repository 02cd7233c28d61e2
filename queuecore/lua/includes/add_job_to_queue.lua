--- @include "reply_codes"
--- @include "update_parent"
--- @include "deduplicate_job"

-- Store one job and place it (BullMQ's addStandardJob, addPrioritizedJob,
-- addDelayedJob and addParentJob in one). `q` holds the queue's keys (see
-- queueKeys) plus maxEvents and pausedOrMaxed; `j` is the job as the client
-- sent it: id ("" for the next counter value), name, ts, data, opts, delay,
-- priority, lifo, and optionally pk (parent key), pj (parent JSON), pdk (the
-- parent's dependencies key), wc (true: a flow parent, waits for children),
-- de (opts.de as a map: id, ttl, extend, replace, keepLastIfActive, reschedule;
-- see deduplicate_job), dd (true: skip the deduplication check, the caller set
-- the key already), rjk (the job scheduler id of an iteration job, stored as
-- the `rjk` field).
-- Returns the job id (the owner's id when deduplicated), or -5 (parent
-- missing) / -7 (has another parent).
local function addJobToQueue(q, j)
  if j.pk and rcall("EXISTS", j.pk) == 0 then
    return Code.PARENT_NOT_FOUND
  end
  local counter = rcall("INCR", q.id)
  local jobId = j.id ~= "" and j.id or tostring(counter)
  local jobKey = q.base .. jobId
  if j.id ~= "" and rcall("EXISTS", jobKey) == 1 then
    -- a duplicate custom id: the job stays as it is, but may join a flow
    if j.pk then
      local oldParentKey = rcall("HGET", jobKey, "parentKey")
      if oldParentKey and oldParentKey ~= j.pk and rcall("EXISTS", oldParentKey) == 1 then
        return Code.PARENT_ALREADY_SET
      end
      if rcall("ZSCORE", q.completed, jobId) then
        local parent = cjson.decode(j.pj)
        rcall("HSET", j.pk .. ":processed", jobKey, rcall("HGET", jobKey, "returnvalue") or "null")
        if rcall("SCARD", j.pdk) == 0 then
          moveParentToWait(parent, tonumber(j.ts))
        end
      else
        rcall("SADD", j.pdk, jobKey)
      end
      rcall("HSET", jobKey, "parentKey", j.pk, "parent", j.pj)
    end
    rcall("XADD", q.events, "MAXLEN", "~", q.maxEvents, "*", "event", "duplicated",
      "jobId", jobId)
    return jobId
  end
  if j.de and not j.dd then
    local ownerId = deduplicateJob(q, j, jobId)
    if ownerId then
      return ownerId
    end
  end
  local fields = {"name", j.name, "data", j.data, "opts", j.opts, "timestamp", j.ts,
    "delay", j.delay, "priority", j.priority}
  if j.de then
    fields[#fields + 1] = "deid"
    fields[#fields + 1] = j.de.id
  end
  if j.pk then
    fields[#fields + 1] = "parentKey"
    fields[#fields + 1] = j.pk
    fields[#fields + 1] = "parent"
    fields[#fields + 1] = j.pj
  end
  if j.rjk then
    fields[#fields + 1] = "rjk"
    fields[#fields + 1] = j.rjk
  end
  rcall("HSET", jobKey, unpack(fields))
  rcall("XADD", q.events, "MAXLEN", "~", q.maxEvents, "*", "event", "added", "jobId", jobId,
    "name", j.name)
  if j.wc then
    -- a flow parent: delay and priority apply when its children are done
    rcall("ZADD", q.wc, j.ts, jobId)
    rcall("XADD", q.events, "MAXLEN", "~", q.maxEvents, "*", "event", "waiting-children",
      "jobId", jobId)
  elseif j.delay > 0 then
    local score, due = getDelayedScore(q.delayed, j.ts, j.delay)
    rcall("ZADD", q.delayed, score, jobId)
    rcall("XADD", q.events, "MAXLEN", "~", q.maxEvents, "*", "event", "delayed", "jobId", jobId,
      "delay", due)
    addDelayMarkerIfNeeded(q.marker, q.delayed)
  else
    if j.priority > 0 then
      addJobWithPriority(q.prioritized, j.priority, jobId, q.pc)
    else
      rcall(j.lifo and "RPUSH" or "LPUSH", q.wait, jobId)
    end
    if q.pausedOrMaxed == nil then
      q.pausedOrMaxed = isPausedOrMaxed(q.meta, q.active)
    end
    addBaseMarkerIfNeeded(q.marker, q.pausedOrMaxed)
    rcall("XADD", q.events, "MAXLEN", "~", q.maxEvents, "*", "event", "waiting", "jobId", jobId)
  end
  if j.pdk then
    rcall("SADD", j.pdk, jobKey)
  end
  return jobId
end
