--- @include "reply_codes"
--- @include "queue_keys"

-- What add_job checks before it writes anything: a script that fails half-way
-- keeps its earlier writes, so whatever could fail is found first. Every key
-- the batch may touch must be missing or of BullMQ's type, with integers where
-- Redis increments or trims; each parent must be a job hash (or come earlier
-- in the batch); an existing custom id must not belong to another parent.
-- Reads only.

local function wrongType(key, found, wanted)
  return redis.error_reply("WRONGTYPE " .. key .. " holds a " .. found .. ", not a " .. wanted
    .. " (written by another client?); nothing was added")
end

local function notInteger(key, what, value)
  return redis.error_reply("WRONGTYPE " .. key .. " " .. what .. " is '" .. value
    .. "', not an integer (written by another client?); nothing was added")
end

-- Key types (TYPE replies) found so far, the counters found good and the
-- queues already checked (all checks run before any write).
local checkedTypes = {}
local checkedCounters = {}
local checkedQueues = {}

local function typeOf(key)
  local found = checkedTypes[key]
  if not found then
    found = rcall("TYPE", key)["ok"]
    checkedTypes[key] = found
  end
  return found
end

-- nil when `key` is missing or a `wanted`, else the error reply.
local function checkType(key, wanted)
  local found = typeOf(key)
  if found ~= "none" and found ~= wanted then
    return wrongType(key, found, wanted)
  end
  return nil
end

-- A counter that INCR must be able to increment (within 2^53, as Lua reads
-- it). The GET checks the type too. A bad one ends the batch, so only good
-- ones are remembered.
local function checkCounter(key)
  if checkedCounters[key] then
    return nil
  end
  local value = redis.pcall("GET", key)
  if type(value) == "table" and value.err then
    return wrongType(key, typeOf(key), "string")
  end
  if value and (not string.match(value, "^%-?%d+$") or #value > 15) then
    return notInteger(key, "value", value)
  end
  checkedCounters[key] = true
  return nil
end

-- The keys every add to queue `q` touches, and meta's numbers it reads (the
-- HMGET checks meta's type; active is read only under global concurrency).
-- Keeps opts.maxLenEvents in q.maxEvents and, when meta alone tells,
-- q.pausedOrMaxed, so the add need not read them again.
local function checkQueue(q)
  if checkedQueues[q.base] then
    return nil
  end
  checkedQueues[q.base] = true
  local fields = redis.pcall("HMGET", q.meta, "opts.maxLenEvents", "concurrency", "paused")
  if fields.err then
    return wrongType(q.meta, typeOf(q.meta), "hash")
  end
  if fields[1] and not string.match(fields[1], "^%d+$") then
    return notInteger(q.meta, "field opts.maxLenEvents", fields[1])
  end
  if fields[2] and not tonumber(fields[2]) then
    return notInteger(q.meta, "field concurrency", fields[2])
  end
  q.maxEvents = fields[1] or nil
  -- paused, or neither paused nor under global concurrency: the add's marker
  -- needs no second read of meta (under global concurrency it counts active)
  if fields[3] then
    q.pausedOrMaxed = true
  elseif not fields[2] then
    q.pausedOrMaxed = false
  end
  return checkCounter(q.id) or checkType(q.events, "stream") or checkType(q.marker, "zset")
    or (fields[2] and checkType(q.active, "list")) or nil
end

-- Where the job goes: waiting-children, delayed, prioritized or wait.
local function checkPlacement(q, j)
  if j.wc then
    return checkType(q.wc, "zset")
  elseif j.delay > 0 then
    return checkType(q.delayed, "zset")
  elseif j.priority > 0 then
    return checkType(q.prioritized, "zset") or checkCounter(q.pc)
  end
  return checkType(q.wait, "list")
end

-- A child's parent and what linking to it (or releasing it) touches.
local function checkParent(j, planned)
  if planned[j.pk] == nil then
    local found = typeOf(j.pk)
    if found == "none" then
      return nil, Code.PARENT_NOT_FOUND
    elseif found ~= "hash" then
      return wrongType(j.pk, found, "hash (a job)")
    end
  end
  local pq = queueKeys(cjson.decode(j.pj).queueKey .. ":")
  return checkType(j.pdk, "set") or checkType(j.pk .. ":processed", "hash") or checkQueue(pq)
    or checkType(pq.wc, "zset") or checkType(pq.delayed, "zset")
    or checkType(pq.prioritized, "zset") or checkCounter(pq.pc) or checkType(pq.wait, "list")
end

-- A custom id that exists already (or earlier in the batch) may join a flow
-- only when it has no other live parent (Code.PARENT_ALREADY_SET).
local function checkCustomId(q, j, planned)
  local jobKey = q.base .. j.id
  local oldParent = planned[jobKey]
  if oldParent == nil then
    local found = typeOf(jobKey)
    if found == "none" then
      planned[jobKey] = j.pk or false
      return nil, nil
    elseif found ~= "hash" then
      return wrongType(jobKey, found, "hash (a job)")
    end
    oldParent = rcall("HGET", jobKey, "parentKey") or false
  end
  if j.pk and oldParent and oldParent ~= j.pk
      and (planned[oldParent] ~= nil or rcall("EXISTS", oldParent) == 1) then
    return nil, Code.PARENT_ALREADY_SET
  end
  planned[jobKey] = (j.pk or oldParent) or false
  return nil, nil
end

-- Returns nil when the batch can be added; else an error reply, or the
-- 1-based index of the refused job and its code (Code.PARENT_NOT_FOUND,
-- Code.PARENT_ALREADY_SET: it has another parent). Fills `queues` (index into bases -> queueKeys, checked)
-- for the add to use.
local function checkAddJobs(jobs, bases, queues)
  local planned = {}  -- job keys the batch creates or links -> their parent key or false
  for i, j in ipairs(jobs) do
    local q = queues[j.q]
    if not q then
      q = queueKeys(bases[j.q])
      queues[j.q] = q
    end
    local err, code = checkQueue(q) or checkPlacement(q, j)
    if not err and j.de then
      err = checkType(q.base .. "de:" .. j.de.id, "string") or checkType(q.delayed, "zset")
        or checkType(q.active, "list")
    end
    if not err and j.pk then
      err, code = checkParent(j, planned)
    end
    if not err and not code and j.id ~= "" then
      err, code = checkCustomId(q, j, planned)
    end
    if err then
      return err
    elseif code then
      return nil, i, code
    end
  end
  return nil
end
