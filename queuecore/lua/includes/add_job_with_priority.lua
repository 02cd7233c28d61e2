-- Prioritized zset score: priority * 2^32 + a counter, so lower priorities run
-- first and jobs of one priority run in insertion order.
local function addJobWithPriority(prioritizedKey, priority, jobId, pcKey)
  local counter = rcall("INCR", pcKey)
  rcall("ZADD", prioritizedKey, priority * 0x100000000 + counter % 0x100000000, jobId)
end
