--[[
  Search one state for jobs, one bounded chunk per call (search and export).
  Looks at most `chunk` jobs, newest first (the order get_jobs lists them
  descending), and stops sooner once `budget` bytes have been read or `want`
  jobs matched, so a call holds Redis for a few milliseconds whatever the
  state's size. The caller repeats with the returned cursor until it is "".

  Cursors: a list (wait, paused, active) is read by offset from its head
  (workers take from the tail, so they do not shift it; new jobs pushed at
  the head do, and may be looked at twice). A sorted set is read by score:
  "<score> <skip>" goes on from that score, past the first `skip` members
  holding it, so members added or removed elsewhere do not shift the scan.

  KEYS: 1 state key
  ARGV: 1 queue key prefix, 2 "list" or "zset", 3 cursor ("" from the top),
        4 chunk (most jobs looked at), 5 byte budget, 6 most matches wanted,
        7 fields to return for a match (space separated; "" for the whole
        hash), 8 how to match:
          "all": every job;
          "sub": the hash field ARGV 9, lower-cased (ASCII), contains ARGV 10
                 (given lower-cased);
          "kv":  the data JSON holds ARGV 10 (a dotted path; a number picks
                 an array item, from 0) equal to ARGV 11
                 (compared as text: strings as they are, numbers, true, false,
                 null as JSON writes them).
  Returns: {next cursor or "" when the state has been read, jobs looked at,
            jobs in the state, jobId1, jobHash1, jobId2, jobHash2, ...}
            (hashes flat, as get_jobs returns them)
]]
local rcall = redis.call
--- @include "read_job_fields"
local key, prefix, kind, cursor = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local chunk, budget, want = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local mode, field, needle, value = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local fields = fieldList(ARGV[7])

local function readJob(jobKey)
  return readJobFields(jobKey, fields)
end

-- key=value: a cheap plain find first (when the text would appear verbatim
-- in the JSON), the JSON decoded only for jobs that pass it
local path = {}
local quick = {}
if mode == "kv" then
  for part in string.gmatch(needle, "[^%.]+") do
    path[#path + 1] = part
  end
  local function plain(s) return s ~= "" and string.find(s, "^[%w _%-:@]+$") ~= nil end
  if plain(path[#path]) then quick[#quick + 1] = path[#path] end
  if plain(value) and tonumber(value) == nil then quick[#quick + 1] = value end
end

local function asText(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "boolean" then return v and "true" or "false" end
  if v == cjson.null then return "null" end
  return nil
end

local function kvMatches(data)
  for _, q in ipairs(quick) do
    if not string.find(data, q, 1, true) then return false end
  end
  local ok, node = pcall(cjson.decode, data)
  if not ok then return false end
  for _, part in ipairs(path) do
    if type(node) ~= "table" then return false end
    local child = node[part]
    if child == nil and tonumber(part) then
      child = node[tonumber(part) + 1]  -- "items.0.sku": arrays count from 0, as in JSON
    end
    if child == nil then return false end
    node = child
  end
  if type(node) == "number" then
    return tonumber(value) == node
  end
  return asText(node) == value
end

-- the ids of this chunk, and for a sorted set their scores
local ids, scores, total
local top, skip = "+inf", 0
if kind == "list" then
  local offset = tonumber(cursor) or 0
  ids = rcall("LRANGE", key, offset, offset + chunk - 1)
  total = rcall("LLEN", key)
else
  if cursor ~= "" then
    local s, n = string.match(cursor, "^(%S+) (%d+)$")
    top, skip = s, tonumber(n)
  end
  local flat = rcall("ZREVRANGEBYSCORE", key, top, "-inf", "WITHSCORES", "LIMIT", skip, chunk)
  ids, scores = {}, {}
  for i = 1, #flat, 2 do
    ids[#ids + 1] = flat[i]
    scores[#scores + 1] = flat[i + 1]
  end
  total = rcall("ZCARD", key)
end

local reply = {"", 0, total}
local looked, bytes, found = 0, 0, 0
for _, jobId in ipairs(ids) do
  if looked >= chunk or bytes >= budget or found >= want then
    break
  end
  looked = looked + 1
  if string.sub(jobId, 1, 2) ~= "0:" then  -- not a legacy marker
    local jobKey = prefix .. jobId
    local hash
    if mode == "all" then
      hash = readJob(jobKey)
      for j = 2, #hash, 2 do
        bytes = bytes + #hash[j]
      end
    else
      local text = rcall("HGET", jobKey, mode == "kv" and "data" or field)
      if text then
        bytes = bytes + #text
        local hit
        if mode == "kv" then
          hit = kvMatches(text)
        else
          hit = string.find(string.lower(text), needle, 1, true) ~= nil
        end
        if hit then
          hash = readJob(jobKey)
        end
      end
    end
    if hash and #hash > 0 then
      found = found + 1
      reply[#reply + 1] = jobId
      reply[#reply + 1] = hash
    end
  end
end

-- where the next call goes on
local finished = looked == #ids and #ids < chunk
if not finished then
  if kind == "list" then
    reply[1] = tostring((tonumber(cursor) or 0) + looked)
  elseif looked == 0 then
    reply[1] = cursor
  else
    local last = scores[looked]
    local same = 0
    for i = looked, 1, -1 do
      if scores[i] ~= last then break end
      same = same + 1
    end
    if same == looked and top ~= "+inf" and tonumber(top) == tonumber(last) then
      same = same + skip
    end
    reply[1] = last .. " " .. same
  end
end
reply[2] = looked
return reply
