-- A failed attempt's reason (and stack trace, if any) on the job hash: the
-- first write of fail, retry and delay, before the job leaves active (as
-- BullMQ saves the stack trace before its moveToFinished / retryJob).
local function recordFailure(jobKey, reason, stacktrace)
  if stacktrace ~= "" then
    rcall("HSET", jobKey, "failedReason", reason, "stacktrace", stacktrace)
  else
    rcall("HSET", jobKey, "failedReason", reason)
  end
end
