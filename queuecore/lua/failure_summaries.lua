--[[
  What identifies the failure of some failed jobs, for grouping them by
  cause: a page of the failed set (newest first), or the given ids. Each job
  comes with its name, failed reason (cut), finish and add times, whether it
  is still in the failed set, its opts, and the top frame of its latest stack
  trace only (a job may keep many whole traces; the caller never needs them).
  The top frame: for a Python traceback the last 'File "f", line n, in fn'
  (the innermost), else the first line starting with "at " (Node).

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

local function topFrame(raw)
  if not raw then
    return ""
  end
  local ok, stack = pcall(cjson.decode, raw)
  if not ok or type(stack) ~= "table" or #stack == 0 or type(stack[#stack]) ~= "string" then
    return ""
  end
  local trace = stack[#stack]
  local frame
  for file, line, fn in string.gmatch(trace, 'File "([^"\n]*)", line (%d+), in ([^\n]*)') do
    frame = file .. ":" .. line .. " in " .. fn
  end
  if frame then
    return frame
  end
  return string.match(trace, "\n%s*at ([^\n]*)") or ""
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
