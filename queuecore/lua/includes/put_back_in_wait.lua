-- Put a job just taken out of active back at the front of wait (or first of
-- its priority), with the "waiting" event: BullMQ's moveJobFromActiveToWait,
-- which counts no attempt. Unlike BullMQ, a prioritized job also gets the
-- marker, so that blocked workers see it at once rather than at their next
-- timeout.
local function putBackInWait(jobId, jobKey, waitKey, prioritizedKey, markerKey, metaKey,
                             activeKey, eventsKey, maxEvents)
  local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
  if priority > 0 then
    -- first of its priority: counter 0
    rcall("ZADD", prioritizedKey, priority * 0x100000000, jobId)
  else
    rcall("RPUSH", waitKey, jobId)
  end
  addBaseMarkerIfNeeded(markerKey, isPausedOrMaxed(metaKey, activeKey))
  rcall("XADD", eventsKey, "MAXLEN", "~", maxEvents, "*", "event", "waiting",
    "jobId", jobId, "prev", "active")
end
