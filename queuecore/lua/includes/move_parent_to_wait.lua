--- @include "queue_keys"
--- @include "get_max_events"
--- @include "is_paused_or_maxed"
--- @include "add_base_marker_if_needed"
--- @include "add_delay_marker_if_needed"
--- @include "get_delayed_score"
--- @include "add_job_with_priority"

-- Release a parent from waiting-children (BullMQ's moveParentToWait): to
-- delayed when it has a delay, else prioritized, else the front of wait.
-- `parent` is the child's decoded `parent` field (id, queueKey). Does nothing
-- when the parent is not in waiting-children (already released).
local function moveParentToWait(parent, now)
  local pq = queueKeys(parent.queueKey .. ":")
  if rcall("ZREM", pq.wc, parent.id) == 0 then
    return
  end
  local parentKey = pq.base .. parent.id
  local maxEvents = getMaxEvents(pq.meta)
  local fields = rcall("HMGET", parentKey, "delay", "priority")
  local delay, priority = tonumber(fields[1]) or 0, tonumber(fields[2]) or 0
  if delay > 0 then
    local score, due = getDelayedScore(pq.delayed, now, delay)
    rcall("ZADD", pq.delayed, score, parent.id)
    rcall("XADD", pq.events, "MAXLEN", "~", maxEvents, "*", "event", "delayed",
      "jobId", parent.id, "delay", due)
    addDelayMarkerIfNeeded(pq.marker, pq.delayed)
  else
    if priority > 0 then
      addJobWithPriority(pq.prioritized, priority, parent.id, pq.pc)
    else
      rcall("RPUSH", pq.wait, parent.id)
    end
    addBaseMarkerIfNeeded(pq.marker, isPausedOrMaxed(pq.meta, pq.active))
    rcall("XADD", pq.events, "MAXLEN", "~", maxEvents, "*", "event", "waiting",
      "jobId", parent.id, "prev", "waiting-children")
  end
end
