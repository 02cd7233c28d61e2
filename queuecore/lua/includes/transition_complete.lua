--- @include "reply_codes"
--- @include "leave_active"
--- @include "finish_job"

-- complete: the attempt returned; the job goes to completed (or is removed,
-- by its retention). Checked before its lock: a flow parent completes only
-- once its children are done, else it stays active and locked and the
-- worker fails it.
local function completeRefused(jobKey)
  -- Redis deletes empty sets: one call tells most jobs apart
  if rcall("EXISTS", jobKey .. ":dependencies", jobKey .. ":unsuccessful") == 0 then
    return nil
  end
  return rcall("EXISTS", jobKey .. ":dependencies") == 1 and Code.PENDING_CHILDREN
    or Code.FAILED_CHILDREN
end

local function completeJob(k, w, s, jobId, jobKey, returnValue, keepCount, keepAge)
  if not leaveActive(k, jobId, jobKey, true) then  -- not active: nothing to do
    return Code.NOT_IN_STATE
  end
  finishJob(k, w, s, jobId, jobKey, "completed", returnValue, keepCount, keepAge)
  return Code.OK
end
