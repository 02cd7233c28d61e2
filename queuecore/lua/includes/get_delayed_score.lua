-- Score in the delayed zset: due * 4096 + seq, seq keeping FIFO order for up
-- to 4096 jobs due in the same millisecond. Returns score and due time.
local function getDelayedScore(delayedKey, timestamp, delay)
  local due = tonumber(timestamp)
  if tonumber(delay) > 0 then
    due = due + tonumber(delay)
  end
  local low = due * 4096
  local last = rcall("ZREVRANGEBYSCORE", delayedKey, low + 4095, low, "WITHSCORES", "LIMIT", 0, 1)
  if last[2] then
    return math.min(tonumber(last[2]) + 1, low + 4095), due
  end
  return low, due
end
