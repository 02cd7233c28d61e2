--[[
  Ids and hashes of the jobs in some states, in one call (BullMQ getJobs).
  Each state gets the range start..end of its own (negative indexes count
  from the end); an id seen in an earlier state is skipped. When a listed id
  has no hash left (removed under us), a bounded range reads on past its end
  to fill the page, for at most 5 rounds, as BullMQ does.
  Lists: descending reads from the head (newest first); ascending from the
  tail (next to run first). Sets: ZRANGE ascending, ZREVRANGE descending.

  KEYS: 1 queue key prefix
  ARGV: 1 start, 2 end, 3 "1" for ascending, 4 fields to read (space
        separated; "" for the whole hash), 5.. state key suffixes (wait,
        paused, active, prioritized, delayed, completed, failed,
        waiting-children)
  Returns: {jobId1, jobHash1, jobId2, jobHash2, ...}; a hash is flat
           (field, value, ...) and, with fields, holds only those present.
]]
local rcall = redis.call
--- @include "read_job_fields"
local prefix = KEYS[1]
local first, last, asc = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == "1"
local seen, reply = {}, {}
local fields = fieldList(ARGV[4])

local function readJob(jobKey)
  return readJobFields(jobKey, fields)
end

local function listRange(key, from, to)
  local len = rcall("LLEN", key)
  if from < 0 then from = math.max(len + from, 0) end
  if to < 0 then to = len + to end
  to = math.min(to, len - 1)
  if from > to then
    return {}
  end
  if not asc then
    return rcall("LRANGE", key, from, to)
  end
  local ids = rcall("LRANGE", key, len - 1 - to, len - 1 - from)
  local n = #ids
  for j = 1, math.floor(n / 2) do
    ids[j], ids[n - j + 1] = ids[n - j + 1], ids[j]
  end
  return ids
end

for i = 5, #ARGV do
  local suffix = ARGV[i]
  local key = prefix .. suffix
  local isList = suffix == "wait" or suffix == "paused" or suffix == "active"
  local from, to = first, last
  for _ = 1, 5 do
    local ids
    if isList then
      ids = listRange(key, from, to)
    elseif asc then
      ids = rcall("ZRANGE", key, from, to)
    else
      ids = rcall("ZREVRANGE", key, from, to)
    end
    local missing = 0
    for _, jobId in ipairs(ids) do
      local hash = string.sub(jobId, 1, 2) ~= "0:" and readJob(prefix .. jobId) or {}
      if #hash == 0 then
        missing = missing + 1
      elseif not seen[jobId] then
        seen[jobId] = true
        reply[#reply + 1] = jobId
        reply[#reply + 1] = hash
      end
    end
    if missing == 0 or to < 0 or from < 0 or #ids == 0 then
      break
    end
    from, to = to + 1, to + missing
  end
end
return reply
