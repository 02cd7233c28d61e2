-- Max length of the events stream: meta's opts.maxLenEvents, written (as BullMQ
-- does lazily) with the default of 10000 when the field is missing.
local function getMaxEvents(metaKey)
  local maxEvents = rcall("HGET", metaKey, "opts.maxLenEvents")
  if not maxEvents then
    maxEvents = 10000
    rcall("HSET", metaKey, "opts.maxLenEvents", maxEvents)
  end
  return maxEvents
end
