--[[
  How long the queue stays rate limited (BullMQ's getRateLimitTtl).

  KEYS: 1 limiter, 2 meta
  ARGV: 1 max jobs, or "0": use meta.max when set, else the plain PTTL
  Returns: the limiter's PTTL in ms when its counter has reached the max (0
           when it has not, or when the key has no expiry); without any max,
           the PTTL as is (-2 no key, -1 no expiry).
  Events: none
]]
local rcall = redis.call

-- The TTL when `maxJobs` starts are used up, else 0; a counter whose expiry
-- has come (PTTL 0) is deleted, as in BullMQ.
local function limitedFor(maxJobs)
  if maxJobs <= (tonumber(rcall("GET", KEYS[1])) or 0) then
    local ttl = rcall("PTTL", KEYS[1])
    if ttl == 0 then
      rcall("DEL", KEYS[1])
    end
    if ttl > 0 then
      return ttl
    end
  end
  return 0
end

if ARGV[1] ~= "0" then
  return limitedFor(tonumber(ARGV[1]))
end
local globalMax = rcall("HGET", KEYS[2], "max")
if globalMax then
  return limitedFor(tonumber(globalMax))
end
return rcall("PTTL", KEYS[1])
