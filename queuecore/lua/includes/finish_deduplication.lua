--- @include "set_deduplication_key"
--- @include "add_job_to_queue"

-- A job with a deduplication id finished for good (BullMQ's
-- removeDeduplicationKeyIfNeededOnFinalization, then requeueDeduplicatedJob):
-- a key without expiry that still points at it is freed (a key with a live
-- ttl is left to expire), and a next job kept by keepLastIfActive while it ran
-- is added now and owns the key.
local function finishDeduplication(prefix, dedupId, jobId, now, maxEvents)
  local key = prefix .. "de:" .. dedupId
  local pttl = rcall("PTTL", key)
  if pttl == 0 or (pttl == -1 and rcall("GET", key) == jobId) then
    rcall("DEL", key)
  end
  local nextKey = prefix .. "dn:" .. dedupId
  if rcall("EXISTS", nextKey) == 0 then
    return
  end
  local f = rcall("HMGET", nextKey, "name", "data", "opts", "pk", "pd", "pdk", "rjk", "jid")
  local ok, opts = pcall(cjson.decode, f[3] or "{}")
  if not ok or type(opts) ~= "table" then
    opts = {}
  end
  local de = type(opts.de) == "table" and opts.de or {id = dedupId}
  local q = queueKeys(prefix)
  q.maxEvents = maxEvents
  local delay, priority = tonumber(opts.delay) or 0, tonumber(opts.priority) or 0
  local newId = addJobToQueue(q, {id = f[8] or "", name = f[1] or "", ts = now,
    data = f[2] or "{}", opts = f[3] or "{}", delay = delay, priority = priority,
    lifo = opts.lifo and true or false, pk = f[4], pj = f[5], pdk = f[6], de = de, dd = true})
  if type(newId) == "string" then
    setDeduplicationKey(key, newId, de)
    if f[7] then
      rcall("HSET", prefix .. newId, "rjk", f[7])
    end
  end
  rcall("DEL", nextKey)
end
