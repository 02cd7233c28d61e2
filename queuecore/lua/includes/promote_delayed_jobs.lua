-- Move up to 1000 due delayed jobs to wait (priority 0) or prioritized, with a
-- "waiting" event each. Runs even while paused: only the marker is withheld.
local function promoteDelayedJobs(delayedKey, markerKey, waitKey, prioritizedKey, eventsKey,
                                  prefix, timestamp, pcKey, pausedOrMaxed, maxEvents)
  local due = rcall("ZRANGEBYSCORE", delayedKey, 0, (tonumber(timestamp) + 1) * 4096 - 1,
    "LIMIT", 0, 1000)
  if #due == 0 then
    return
  end
  rcall("ZREM", delayedKey, unpack(due))
  for _, jobId in ipairs(due) do
    local jobKey = prefix .. jobId
    local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
    if priority == 0 then
      rcall("LPUSH", waitKey, jobId)
    else
      addJobWithPriority(prioritizedKey, priority, jobId, pcKey)
    end
    rcall("XADD", eventsKey, "MAXLEN", "~", maxEvents, "*", "event", "waiting",
      "jobId", jobId, "prev", "delayed")
    rcall("HSET", jobKey, "delay", 0)
  end
  addBaseMarkerIfNeeded(markerKey, pausedOrMaxed)
end
