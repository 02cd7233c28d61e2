--[[
  Read one kind of metrics in one go (BullMQ's getMetrics).

  KEYS: 1 <q>:metrics:completed or :failed, 2 the same key + ":data"
  ARGV: 1 start index, 2 end index (of the data list; 0 = the newest minute)
  Returns: {{count, prevTS, prevCount}, data points start..end, data length}
  Events: none
]]
local rcall = redis.call
return {rcall("HMGET", KEYS[1], "count", "prevTS", "prevCount"),
  rcall("LRANGE", KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2])), rcall("LLEN", KEYS[2])}
