--[[
  What identifies the failure of some failed jobs, for grouping them by
  cause: a page of the failed set (newest first), or the given ids. Each job
  comes with its name, failed reason (cut), finish and add times, whether it
  is still in the failed set, its opts, and the top frame of its latest stack
  trace only (a job may keep many whole traces; the caller never needs them).
  The top frame: for a Python traceback the last 'File "f", line n, in fn'
  (the innermost; found in the JSON text, so the last trace without one
  would show an earlier trace's), else the first line starting with "at "
  (Node).

  KEYS: 1 failed set
  ARGV: 1 queue key prefix, 2 start, 3 end (ZREVRANGE of failed; ignored
        when ids are given), 4 most bytes of failedReason returned,
        5.. job ids (optional)
  Returns: {jobId1, {name, failedReason, finishedOn, timestamp, inFailed
           ("1" or "0"), opts, topFrame}, jobId2, ...}; jobs without a hash
           are left out.
]]
local rcall = redis.call
local prefix, cut = ARGV[1], tonumber(ARGV[4])
local ids
if #ARGV > 4 then
  ids = {}
  for i = 5, #ARGV do
    ids[#ids + 1] = ARGV[i]
  end
else
  ids = rcall("ZREVRANGE", KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
end

-- the last 'File "f", line n, in fn' of a Python traceback, read from the
-- stacktrace's JSON text itself (quotes escaped): no decoding of all the
-- traces, and the tail first, where the latest trace's innermost frame is
local function pythonFrame(text)
  -- plain finds to the last occurrence (fast), then one anchored match
  local last, at = nil, 1
  while true do
    local found = string.find(text, 'File \\"', at, true)
    if not found then
      break
    end
    last, at = found, found + 6
  end
  if not last then
    return nil
  end
  local file, line, fn = string.match(text, '^File \\"(.-)\\", line (%d+), in ([^\\\n]*)', last)
  return file and (file .. ":" .. line .. " in " .. fn) or nil
end

local function topFrame(raw)
  if not raw or raw == "" then
    return ""
  end
  local frame = pythonFrame(#raw > 4096 and string.sub(raw, -4096) or raw)
  if not frame and #raw > 4096 then
    frame = pythonFrame(raw)
  end
  if frame then
    return frame
  end
  -- not Python: decode, and take the first "at " line of the latest trace (Node)
  local ok, stack = pcall(cjson.decode, raw)
  if not ok or type(stack) ~= "table" or #stack == 0 or type(stack[#stack]) ~= "string" then
    return ""
  end
  return string.match(stack[#stack], "\n%s*at ([^\n]*)") or ""
end

local reply = {}
for _, jobId in ipairs(ids) do
  if string.sub(jobId, 1, 2) ~= "0:" then
    local v = rcall("HMGET", prefix .. jobId, "name", "failedReason", "finishedOn", "timestamp",
      "opts", "stacktrace")
    if v[1] or v[2] or v[4] then
      local reason = v[2] or ""
      if #reason > cut then
        reason = string.sub(reason, 1, cut)
      end
      local inFailed = rcall("ZSCORE", KEYS[1], jobId) and "1" or "0"
      reply[#reply + 1] = jobId
      reply[#reply + 1] = {v[1] or "", reason, v[3] or "", v[4] or "", inFailed, v[5] or "",
        topFrame(v[6])}
    end
  end
end
return reply
