--[[
  Pause or resume a queue (BullMQ v6: jobs stay in wait; meta.paused and the
  missing marker stop the workers). Resuming also drains a legacy v5 "paused"
  list back into wait, in chunks of 7000: the caller repeats while the reply
  is > 0.

  KEYS: 1 meta, 2 marker, 3 events, 4 wait, 5 paused (legacy), 6 prioritized,
        7 delayed
  ARGV: 1 "paused" or "resumed", 2 "1" to emit the event
  Returns: how many legacy paused entries are left to move.
  Events: paused or resumed
]]
local rcall = redis.call
--- @include "get_max_events"
--- @include "add_delay_marker_if_needed"

local maxEvents = getMaxEvents(KEYS[1])
if ARGV[1] == "paused" then
  rcall("HSET", KEYS[1], "paused", 1)
  rcall("DEL", KEYS[2])
else
  rcall("HDEL", KEYS[1], "paused")
  if rcall("EXISTS", KEYS[5]) == 1 then
    if rcall("EXISTS", KEYS[4]) == 0 then
      rcall("RENAME", KEYS[5], KEYS[4])
    else
      local chunk = rcall("LRANGE", KEYS[5], -7000, -1)
      rcall("RPUSH", KEYS[4], unpack(chunk))
      rcall("LTRIM", KEYS[5], 0, -(#chunk + 1))
      local left = rcall("LLEN", KEYS[5])
      if left > 0 then
        return left
      end
    end
  end
  if rcall("LLEN", KEYS[4]) + rcall("ZCARD", KEYS[6]) > 0 then
    rcall("ZADD", KEYS[2], 0, "0")
  else
    addDelayMarkerIfNeeded(KEYS[2], KEYS[7])
  end
end
if ARGV[2] == "1" then
  rcall("XADD", KEYS[3], "MAXLEN", "~", maxEvents, "*", "event", ARGV[1])
end
return 0
