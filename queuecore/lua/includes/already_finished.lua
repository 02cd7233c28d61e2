-- A resent outcome, whose earlier call may have run with its reply lost: did
-- that call apply the transition already? Yes when, since this worker
-- fetched the job, its attempts made moved exactly as that call moves them
-- (+1; none for a give back) and its stalled count did not: only this
-- worker's outcome could then have taken it out of active, since any other
-- way out of active (a stall recovery) counts a stall. The job may have been
-- started again since (a retry fetched by any worker). A give back counts
-- nothing, so the job must have left active or been started again.
-- fetched: {atm, ats, stc} as the worker read them; exists: whether the job
-- hash exists (the caller has just checked it).
local function alreadyFinished(jobKey, jobId, transition, keepCount, fetched, activeKey,
                               exists)
  if not exists then
    -- removed on finishing (retention 0)
    return (transition == "complete" or transition == "fail") and keepCount == 0
  end
  local counters = rcall("HMGET", jobKey, "atm", "ats", "stc")
  local made = transition == "give_back" and 0 or 1
  if (tonumber(counters[1]) or 0) ~= fetched[1] + made
      or (tonumber(counters[3]) or 0) ~= fetched[3] then
    return false
  end
  return transition ~= "give_back" or (tonumber(counters[2]) or 0) > fetched[2]
    or not rcall("LPOS", activeKey, jobId)
end
