-- True when the queue is paused, or when global concurrency (meta.concurrency)
-- is reached by the jobs in the active list.
local function isPausedOrMaxed(metaKey, activeKey)
  local fields = rcall("HMGET", metaKey, "paused", "concurrency")
  if fields[1] then
    return true
  end
  if fields[2] then
    return rcall("LLEN", activeKey) >= tonumber(fields[2])
  end
  return false
end
