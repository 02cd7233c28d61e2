--[[
  Replace a job's data.

  KEYS: 1 job hash
  ARGV: 1 data JSON
  Returns: 0, or -1 when the job does not exist.
]]
--- @include "reply_codes"
if redis.call("EXISTS", KEYS[1]) == 0 then
  return Code.JOB_NOT_FOUND
end
redis.call("HSET", KEYS[1], "data", ARGV[1])
return 0
