--- @include "get_delayed_score"
--- @include "add_delay_marker_if_needed"
--- @include "remove_job_keys"
--- @include "set_deduplication_key"

-- BullMQ 6.7.0's deduplication on add (deduplicateJob and its helpers). `de` is
-- the job's opts.de (id, ttl, extend, replace, keepLastIfActive, reschedule);
-- the key is <q>:de:<id>, holding the id of the job that owns the window.

local function emitDeduplicated(q, ownerId, dedupId, ignoredId)
  rcall("XADD", q.events, "MAXLEN", "~", q.maxEvents, "*", "event", "deduplicated",
    "jobId", ownerId, "deduplicationId", dedupId, "deduplicatedJobId", ignoredId)
end

-- A key without expiry whose owner job is gone (lost in an outage) would block
-- the id for ever: drop it and open a new window for the incoming job.
local function recoverStaleDedupKey(q, key, ownerId, jobId, de)
  if ownerId and rcall("PTTL", key) == -1 and rcall("EXISTS", q.base .. ownerId) == 0 then
    rcall("DEL", key, q.base .. "dn:" .. de.id)
    setDeduplicationKey(key, jobId, de)
    return true
  end
  return false
end

-- keepLastIfActive: while the owner is active, keep the latest add in
-- <q>:dn:<id>; move_to_finished turns it into a job when the owner finishes.
local function storeDedupNext(q, de, key, ownerId, jobId, j)
  if not (de.keepLastIfActive and ownerId) then
    return false
  end
  local pos = redis.pcall("LPOS", q.active, ownerId)
  if type(pos) == "table" and pos.err then  -- Redis < 6.0.6
    pos = nil
    for _, id in ipairs(rcall("LRANGE", q.active, 0, -1)) do
      if id == ownerId then pos = 1 break end
    end
  end
  if not pos then
    return false
  end
  local nextKey = q.base .. "dn:" .. de.id
  local fields = {"name", j.name, "data", j.data, "opts", j.opts, "jid", jobId}
  for _, f in ipairs({{"pk", j.pk}, {"pd", j.pj}, {"pdk", j.pdk}}) do
    if f[2] then
      fields[#fields + 1] = f[1]
      fields[#fields + 1] = f[2]
    end
  end
  rcall("DEL", nextKey)
  rcall("HSET", nextKey, unpack(fields))
  -- no expiry while the owner runs, so later adds keep landing here
  rcall("PERSIST", key)
  emitDeduplicated(q, ownerId, de.id, jobId)
  return true
end

-- A hit on an owner that is already stored: the add is dropped (or kept as the
-- next job, keepLastIfActive). Returns the owner id, nil when the add goes on.
local function dedupHit(q, de, key, ownerId, jobId, j)
  if recoverStaleDedupKey(q, key, ownerId, jobId, de) then
    return nil
  end
  if not storeDedupNext(q, de, key, ownerId, jobId, j) then
    emitDeduplicated(q, ownerId, de.id, jobId)
  end
  return ownerId
end

local function deduplicateWithoutReplace(q, de, key, jobId, j)
  local ttl = de.ttl
  local taken
  if ttl and ttl > 0 then
    if de.extend then
      -- the window restarts with every add, owned by the first job
      local ownerId = rcall("GET", key)
      if not ownerId then
        setDeduplicationKey(key, jobId, de)
        return nil
      end
      if recoverStaleDedupKey(q, key, ownerId, jobId, de) then
        return nil
      end
      if storeDedupNext(q, de, key, ownerId, jobId, j) then
        return ownerId
      end
      setDeduplicationKey(key, ownerId, de)
      emitDeduplicated(q, ownerId, de.id, jobId)
      return ownerId
    elseif de.keepLastIfActive then
      taken = not rcall("SET", key, jobId, "NX")
    else
      taken = not rcall("SET", key, jobId, "PX", ttl, "NX")
    end
  else
    taken = not rcall("SET", key, jobId, "NX")
  end
  if taken then
    return dedupHit(q, de, key, rcall("GET", key), jobId, j)
  end
  return nil
end

-- Returns the id of the job that owns the deduplication id when this add is
-- deduplicated (nothing else is stored), or nil when the job is to be stored.
-- `jobId` is the id the add asked for (the counter value for automatic ids).
local function deduplicateJob(q, j, jobId)
  local de = j.de
  local key = q.base .. "de:" .. de.id
  if not de.replace then
    local ownerId = deduplicateWithoutReplace(q, de, key, jobId, j)
    if ownerId and de.reschedule and rcall("ZSCORE", q.delayed, ownerId) then
      -- the owner keeps its id and data but runs at the new add's delay
      rcall("HSET", q.base .. ownerId, "delay", j.delay)
      local score, due = getDelayedScore(q.delayed, j.ts, j.delay)
      rcall("ZADD", q.delayed, score, ownerId)
      rcall("XADD", q.events, "MAXLEN", "~", q.maxEvents, "*", "event", "delayed",
        "jobId", ownerId, "delay", due)
      addDelayMarkerIfNeeded(q.marker, q.delayed)
    end
    return ownerId
  end
  -- replace (debounce): a still delayed owner gives way to the new job
  local ownerId = rcall("GET", key)
  if not ownerId then
    setDeduplicationKey(key, jobId, de)
    return nil
  end
  if rcall("ZREM", q.delayed, ownerId) > 0 then
    removeJobKeys(q.base .. ownerId)
    rcall("XADD", q.events, "*", "event", "removed", "jobId", ownerId, "prev", "delayed")
    emitDeduplicated(q, jobId, de.id, ownerId)
    -- a next job kept while the replaced one ran would come back otherwise
    rcall("DEL", q.base .. "dn:" .. de.id)
    if not de.keepLastIfActive and not de.extend and de.ttl and de.ttl > 0 then
      rcall("SET", key, jobId, "KEEPTTL")
    else
      setDeduplicationKey(key, jobId, de)
    end
    return nil
  end
  if recoverStaleDedupKey(q, key, ownerId, jobId, de) then
    return nil
  end
  -- BullMQ emits no deduplicated event on this path (unless the add is kept)
  storeDedupNext(q, de, key, ownerId, jobId, j)
  return ownerId
end
