--[[
  Ids and hashes of the jobs in some states, in one call (BullMQ getRanges +
  HGETALL). Each state gets the range start..end of its own; an id seen in an
  earlier state is skipped, as is an id whose hash is gone.
  Lists: descending reads from the head (newest first); ascending reads from
  the tail (next to run first). Sets: ZRANGE ascending, ZREVRANGE descending.

  KEYS: 1 queue key prefix
  ARGV: 1 start, 2 end, 3 "1" for ascending, 4.. state key suffixes
        (wait, paused, active, prioritized, delayed, completed, failed,
        waiting-children)
  Returns: {jobId1, jobHash1, jobId2, jobHash2, ...}
]]
local rcall = redis.call
local prefix = KEYS[1]
local first, last, asc = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == "1"
local seen, reply = {}, {}
for i = 4, #ARGV do
  local key = prefix .. ARGV[i]
  local ids
  if ARGV[i] == "wait" or ARGV[i] == "paused" or ARGV[i] == "active" then
    if asc then
      local len = rcall("LLEN", key)
      local s = last == -1 and 0 or math.max(len - 1 - last, 0)
      local e = len - 1 - first
      ids = rcall("LRANGE", key, s, e)
      local n = #ids
      for j = 1, math.floor(n / 2) do
        ids[j], ids[n - j + 1] = ids[n - j + 1], ids[j]
      end
    else
      ids = rcall("LRANGE", key, first, last)
    end
  elseif asc then
    ids = rcall("ZRANGE", key, first, last)
  else
    ids = rcall("ZREVRANGE", key, first, last)
  end
  for _, jobId in ipairs(ids) do
    if not seen[jobId] and string.sub(jobId, 1, 2) ~= "0:" then
      seen[jobId] = true
      local hash = rcall("HGETALL", prefix .. jobId)
      if #hash > 0 then
        reply[#reply + 1] = jobId
        reply[#reply + 1] = hash
      end
    end
  end
end
return reply
