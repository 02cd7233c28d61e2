--- @include "reply_codes"
-- The first step of every transition out of active: take the job out of the
-- active list. False when it was not there (the transition then replies
-- Code.NOT_IN_STATE and writes nothing more).
local function leaveActive(activeKey, jobId)
  return rcall("LREM", activeKey, -1, jobId) > 0
end

-- A failed attempt's reason (and stack trace, if any) on the job hash.
local function recordFailure(jobKey, reason, stacktrace)
  if stacktrace ~= "" then
    rcall("HSET", jobKey, "failedReason", reason, "stacktrace", stacktrace)
  else
    rcall("HSET", jobKey, "failedReason", reason)
  end
end
