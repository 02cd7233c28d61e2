--[[
  Append a line to a job's log, keeping the newest keep_logs lines if set.

  KEYS: 1 job hash, 2 job logs list
  ARGV: 1 line, 2 keep logs or ""
  Returns: the number of lines kept, or -1 when the job does not exist.
]]
local rcall = redis.call
--- @include "reply_codes"
if rcall("EXISTS", KEYS[1]) == 0 then
  return Code.JOB_NOT_FOUND
end
local count = rcall("RPUSH", KEYS[2], ARGV[1])
local keep = tonumber(ARGV[2])
if keep then
  rcall("LTRIM", KEYS[2], -keep, -1)
  return math.min(keep, count)
end
return count
