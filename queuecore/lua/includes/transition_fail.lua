--- @include "reply_codes"
--- @include "record_failure"
--- @include "finish_job"

-- fail: the attempt raised and no retry follows (attempts used up, an
-- UnrecoverableError, a backoff that said stop); the job goes to failed
-- (or is removed, by its retention), with retries-exhausted once its
-- `attempts` are all made.
local function failJob(k, w, s, jobId, jobKey, reason, stacktrace, keepCount, keepAge,
                       attempts)
  local attemptsMade = recordFailure(k, jobId, jobKey, reason, stacktrace)
  if not attemptsMade then  -- not active: nothing to do
    return Code.NOT_IN_STATE
  end
  if keepCount ~= 0 then  -- kept: a deferred failure has happened now (0: deleted anyway)
    rcall("HDEL", jobKey, "defa")
  end
  finishJob(k, w, s, jobId, jobKey, "failed", reason, keepCount, keepAge)
  if attemptsMade >= attempts then
    rcall("XADD", k.events, "MAXLEN", "~", s.maxEvents, "*", "event", "retries-exhausted",
      "jobId", jobId, "attemptsMade", attemptsMade)
  end
  return Code.OK
end
