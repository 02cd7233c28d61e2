--- @include "reply_codes"
--- @include "leave_active"
--- @include "is_paused_or_maxed"
--- @include "add_base_marker_if_needed"
--- @include "put_back_in_wait"

-- give back: the processor raised RateLimitError; the job goes back to the
-- front of wait with no attempt counted (BullMQ's moveJobFromActiveToWait),
-- and the call that carries it fetches nothing (the limiter is on).
local function giveBackJob(k, w, s, jobId, jobKey)
  if not leaveActive(k, jobId, jobKey, false) then  -- not active: nothing to do
    return Code.NOT_IN_STATE
  end
  putBackInWait(jobId, jobKey, k.wait, k.prioritized, k.marker, k.meta, k.active, k.events,
    s.maxEvents)
  return Code.OK
end
