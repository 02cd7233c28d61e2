--- @include "remove_job_keys"
--- @include "remove_old_finished"
--- @include "update_parent"
--- @include "remove_job_and_links"
--- @include "finish_deduplication"
--- @include "collect_metrics"

-- What complete and fail share once the job is final (BullMQ's
-- moveToFinished): free its dedup key, tell its parent, keep it in the
-- `state` set ("completed" or "failed") under the retention (keepCount -1
-- all, 0 none, n; keepAge in s or nil), emit the event, count the metrics
-- (s.maxMetrics data points, nil: none). `value` is the return value JSON
-- or the failed reason. s: {now, maxEvents, maxMetrics}.
local function finishJob(k, w, s, jobId, jobKey, state, value, keepCount, keepAge)
  local field = state == "completed" and "returnvalue" or "failedReason"
  -- one read for what finishing may have to follow up: dedup key, parent
  local links = rcall("HMGET", jobKey, "deid", "parentKey", "parent")
  if links[1] then
    finishDeduplication(w.prefix, links[1], jobId, s.now, s.maxEvents)
  end
  local parentKey, parent = decodeParent(links[2], links[3])
  if parent and rcall("EXISTS", parentKey) == 1 then
    if state == "completed" then
      childCompleted(jobKey, parentKey, parent, value, s.now)
    else
      childFailed(jobKey, parentKey, parent, value, s.now)
    end
  end
  if keepCount == 0 then
    -- as BullMQ: retention leaves a dedup key with a live ttl to expire
    removeJobAndLinks(w.prefix, jobId, jobKey, true)
  else
    local target = k[state]
    rcall("ZADD", target, s.now, jobId)
    rcall("HSET", jobKey, field, value, "finishedOn", s.now)
    removeOldFinished(target, w.prefix, s.now, keepCount, keepAge)
  end
  rcall("XADD", k.events, "MAXLEN", "~", s.maxEvents, "*", "event", state, "jobId", jobId,
    field, value, "prev", "active")
  if s.maxMetrics then
    collectMetrics(w.prefix .. "metrics:" .. state, s.maxMetrics, s.now)
  end
end
