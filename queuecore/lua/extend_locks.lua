--[[
  Extend the locks of a worker's active jobs, all in one call.

  KEYS: 1 stalled
  ARGV: 1 queue key prefix, 2 lock duration (ms), then pairs: job id, token
  Returns: the ids whose lock is gone or held by another token.
]]
local rcall = redis.call
local lost = {}
for i = 3, #ARGV, 2 do
  local jobId, token = ARGV[i], ARGV[i + 1]
  local lockKey = ARGV[1] .. jobId .. ":lock"
  if rcall("GET", lockKey) == token then
    rcall("SET", lockKey, token, "PX", ARGV[2])
    rcall("SREM", KEYS[1], jobId)
  else
    lost[#lost + 1] = jobId
  end
end
return lost
