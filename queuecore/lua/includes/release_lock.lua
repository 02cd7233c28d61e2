--- @include "reply_codes"

-- Check a job's lock against the worker's token and release it. Returns
-- Code.OK (released, or token "0" which means unlocked), Code.LOCK_MISMATCH
-- (locked by another token) or Code.LOCK_MISSING (no lock: it expired and
-- the job may have stalled).
local function releaseLock(jobKey, jobId, token, stalledKey)
  if token == "0" then
    return Code.OK
  end
  local lockKey = jobKey .. ":lock"
  local current = rcall("GET", lockKey)
  if current == token then
    rcall("DEL", lockKey)
    rcall("SREM", stalledKey, jobId)
    return Code.OK
  end
  if current then
    return Code.LOCK_MISMATCH
  end
  return Code.LOCK_MISSING
end
