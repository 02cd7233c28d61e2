--- @include "increment_job_counter"

-- The job leaves active and, if countAttempt, its attempt is counted (give
-- back counts none). Returns nil when the job was not active (the transition
-- has nothing to do), else the attempts made (0 when not counted).
local function leaveActive(k, jobId, jobKey, countAttempt)
  if rcall("LREM", k.active, -1, jobId) == 0 then
    return nil
  end
  if countAttempt then
    return incrementJobCounter(jobKey, "atm")
  end
  return 0
end
