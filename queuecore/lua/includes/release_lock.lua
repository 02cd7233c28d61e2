-- Check a job's lock against the worker's token and release it.
-- Returns 0 (released, or token "0" which means unlocked), -6 (locked by
-- another token) or -2 (no lock: it expired and the job may have stalled).
local function releaseLock(jobKey, jobId, token, stalledKey)
  if token == "0" then
    return 0
  end
  local lockKey = jobKey .. ":lock"
  local current = rcall("GET", lockKey)
  if current == token then
    rcall("DEL", lockKey)
    rcall("SREM", stalledKey, jobId)
    return 0
  end
  if current then
    return -6
  end
  return -2
end
