--- @include "reply_codes"
--- @include "record_failure"
--- @include "get_delayed_score"
--- @include "add_delay_marker_if_needed"

-- delay: the attempt raised, attempts remain and the backoff gives `delay`
-- ms; the job waits in delayed until then (BullMQ's moveToDelayed).
local function delayJob(k, w, s, jobId, jobKey, reason, stacktrace, delay)
  if not recordFailure(k, jobId, jobKey, reason, stacktrace) then  -- not active
    return Code.NOT_IN_STATE
  end
  rcall("HDEL", jobKey, "cancelled")  -- a cancellation ends with the attempt it hit
  local score, due = getDelayedScore(k.delayed, s.now, delay)
  rcall("HSET", jobKey, "delay", delay)
  rcall("ZADD", k.delayed, score, jobId)
  rcall("XADD", k.events, "MAXLEN", "~", s.maxEvents, "*", "event", "delayed",
    "jobId", jobId, "delay", due)
  addDelayMarkerIfNeeded(k.marker, k.delayed)
  return Code.OK
end
