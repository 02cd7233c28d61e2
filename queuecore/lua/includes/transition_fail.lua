--- @include "reply_codes"
--- @include "record_failure"
--- @include "increment_job_counter"
--- @include "finish_job"

-- fail: the attempt raised and no retry follows (attempts used up, an
-- UnrecoverableError, a backoff that said stop); the job goes to failed
-- (or is removed, by its retention), with retries-exhausted once its
-- `attempts` are all made.
local function failJob(k, w, s, jobId, jobKey, reason, stacktrace, keepCount, keepAge,
                       attempts)
  recordFailure(jobKey, reason, stacktrace)
  if rcall("LREM", k.active, -1, jobId) == 0 then  -- not active: nothing to do
    return Code.NOT_IN_STATE
  end
  local attemptsMade = incrementJobCounter(jobKey, "atm")
  rcall("HDEL", jobKey, "defa")  -- a deferred failure has happened now
  finishJob(k, w, s, jobId, jobKey, "failed", reason, keepCount, keepAge)
  if attemptsMade >= attempts then
    rcall("XADD", k.events, "MAXLEN", "~", s.maxEvents, "*", "event", "retries-exhausted",
      "jobId", jobId, "attemptsMade", attemptsMade)
  end
  return Code.OK
end
