--[[
  Find the jobs that calls of this worker moved to active when their replies
  were lost (a connection cut after the script ran): the active jobs locked
  with one of those calls' tokens. The worker then runs them as if the reply
  had arrived. Walks the active list: only after a lost reply.

  KEYS: 1 active
  ARGV: 1 queue key prefix, 2 the worker's token base, then pairs: first
        token number of a lost call, how many jobs it could fetch
  Returns: {jobId1, token1, jobHash1, jobId2, ...}
]]
local rcall = redis.call
local base = ARGV[2] .. ":"
local reply = {}
for _, jobId in ipairs(rcall("LRANGE", KEYS[1], 0, -1)) do
  local jobKey = ARGV[1] .. jobId
  local lock = rcall("GET", jobKey .. ":lock")
  if lock and string.sub(lock, 1, #base) == base then
    local n = tonumber(string.sub(lock, #base + 1))
    for i = 3, #ARGV, 2 do
      local first = tonumber(ARGV[i])
      if n and n >= first and n < first + tonumber(ARGV[i + 1]) then
        reply[#reply + 1] = jobId
        reply[#reply + 1] = lock
        reply[#reply + 1] = rcall("HGETALL", jobKey)
        break
      end
    end
  end
end
return reply
