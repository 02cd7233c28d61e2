-- Marker "1" scored with the next delayed job's due time (ms), so a blocked
-- worker wakes when it is due. The delayed score is due * 4096 + seq.
local function addDelayMarkerIfNeeded(markerKey, delayedKey)
  local first = rcall("ZRANGE", delayedKey, 0, 0, "WITHSCORES")
  if first[2] then
    rcall("ZADD", markerKey, tonumber(first[2]) / 4096, "1")
  end
end
