-- A resent outcome, whose earlier call may have run with its reply lost: did
-- that call finish the job already? Yes when the job's counters moved
-- exactly as that call moves them and nothing else touched it since this
-- worker fetched it: attempts made +1 (none for "w"), the same stalled count
-- (a stall recovery counts one), and no new start, unless the lost call's
-- own fetch took it again for this worker (a retry now): then the lock is
-- this worker's. fetched: {atm, ats, stc} as the worker read them.
local function alreadyFinished(jobKey, jobId, kind, keepCount, fetched, activeKey, tokenBase)
  if rcall("EXISTS", jobKey) == 0 then
    return (kind == "c" or kind == "f") and keepCount == 0  -- removed on finishing
  end
  local counters = rcall("HMGET", jobKey, "atm", "ats", "stc")
  local made = kind == "w" and 0 or 1
  if (tonumber(counters[1]) or 0) ~= fetched[1] + made
      or (tonumber(counters[3]) or 0) ~= fetched[3] then
    return false
  end
  local started = tonumber(counters[2]) or 0
  if started == fetched[2] then
    -- a given-back job counts nothing: it must have left active too
    return kind ~= "w" or not rcall("LPOS", activeKey, jobId)
  end
  local lock = rcall("GET", jobKey .. ":lock")
  return started == fetched[2] + 1 and lock ~= false
    and string.sub(lock, 1, #tokenBase + 1) == tokenBase .. ":"
end
