-- True when a job is the pending iteration of a live job scheduler
-- (id "repeat:<scheduler id>:<millis>" matching the scheduler's score).
local function isSchedulerIteration(prefix, jobId, jobKey)
  local schedulerId = rcall("HGET", jobKey, "rjk")
  if schedulerId then
    local millis = rcall("ZSCORE", prefix .. "repeat", schedulerId)
    return millis ~= false and ("repeat:" .. schedulerId .. ":" .. millis) == jobId
  end
  return false
end
