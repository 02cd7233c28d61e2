--- @include "leave_active"

-- The start shared by fail, retry and delay: the attempt's reason (and stack
-- trace, if any) on the job hash first (as BullMQ saves the stack trace before
-- its moveToFinished / retryJob), then the job leaves active and its attempt
-- is counted. Returns the attempts made, or nil when the job was not active
-- (the transition has nothing more to do).
local function recordFailure(k, jobId, jobKey, reason, stacktrace)
  if stacktrace ~= "" then
    rcall("HSET", jobKey, "failedReason", reason, "stacktrace", stacktrace)
  else
    rcall("HSET", jobKey, "failedReason", reason)
  end
  return leaveActive(k, jobId, jobKey, true)
end
