--- @include "reply_codes"
--- @include "record_failure"
--- @include "add_job_with_priority"
--- @include "is_paused_or_maxed"
--- @include "add_base_marker_if_needed"

-- retry: the attempt raised, attempts remain and the backoff is 0; the job
-- goes back to wait at once (BullMQ's retryJob): its priority's place, else
-- the front (lifo) or the back of wait.
local function retryJob(k, w, s, jobId, jobKey, reason, stacktrace, lifo)
  if not recordFailure(k, jobId, jobKey, reason, stacktrace) then  -- not active
    return Code.NOT_IN_STATE
  end
  rcall("HDEL", jobKey, "cancelled")  -- a cancellation ends with the attempt it hit
  local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
  if priority > 0 then
    addJobWithPriority(k.prioritized, priority, jobId, k.pc)
  else
    rcall(lifo == 1 and "RPUSH" or "LPUSH", k.wait, jobId)
  end
  addBaseMarkerIfNeeded(k.marker, isPausedOrMaxed(k.meta, k.active))
  rcall("XADD", k.events, "MAXLEN", "~", s.maxEvents, "*", "event", "waiting",
    "jobId", jobId, "prev", "active")
  return Code.OK
end
