-- Take a job id out of whichever state holds it; returns that state's name.
local function removeJobFromAnyState(prefix, jobId)
  if rcall("ZREM", prefix .. "completed", jobId) == 1 then return "completed" end
  if rcall("ZREM", prefix .. "waiting-children", jobId) == 1 then return "waiting-children" end
  if rcall("ZREM", prefix .. "delayed", jobId) == 1 then return "delayed" end
  if rcall("ZREM", prefix .. "failed", jobId) == 1 then return "failed" end
  if rcall("ZREM", prefix .. "prioritized", jobId) == 1 then return "prioritized" end
  if rcall("LREM", prefix .. "wait", 0, jobId) > 0 then return "wait" end
  if rcall("LREM", prefix .. "paused", 0, jobId) > 0 then return "paused" end
  if rcall("LREM", prefix .. "active", 0, jobId) > 0 then return "active" end
  return "unknown"
end
