--- @include "move_parent_to_wait"

-- What a child's final outcome does to its parent (BullMQ's flow rules).
-- Completed: the child leaves the parent's pending dependencies, its return
-- value goes to :processed, and the last one releases the parent.
local function childCompleted(jobKey, parentKey, parent, returnvalue, now)
  if rcall("SREM", parentKey .. ":dependencies", jobKey) == 1 then
    rcall("HSET", parentKey .. ":processed", jobKey, returnvalue)
    if rcall("SCARD", parentKey .. ":dependencies") == 0 then
      moveParentToWait(parent, now)
    end
  end
end

-- Failed for good: the flag in the child's `parent` field decides.
--   fpof: the parent fails too (at once, through `defa`, by the next worker);
--   cpof: the parent runs now, with the failure in :failed;
--   idof: the failure is recorded in :failed and no longer waited for;
--   rdof: the dependency is dropped;
--   none: the parent keeps waiting (a retry of the child may still finish it).
local function childFailed(jobKey, parentKey, parent, reason, now)
  local deps = parentKey .. ":dependencies"
  if parent.fpof then
    rcall("SREM", deps, jobKey)
    rcall("ZADD", parentKey .. ":unsuccessful", now, jobKey)
    local pq = queueKeys(parent.queueKey .. ":")
    local waiting = rcall("ZSCORE", pq.wc, parent.id)
    if not waiting and rcall("ZREM", pq.delayed, parent.id) == 1 then
      rcall("ZADD", pq.wc, now, parent.id)
      waiting = true
    end
    if waiting then
      -- it fails at once, so its own delay no longer applies
      rcall("HSET", parentKey, "defa", "child " .. jobKey .. " failed", "delay", 0)
      moveParentToWait(parent, now)
    elseif not rcall("ZSCORE", pq.failed, parent.id) then
      rcall("HSET", parentKey, "defa", "child " .. jobKey .. " failed")
    end
  elseif parent.cpof then
    rcall("SREM", deps, jobKey)
    rcall("HSET", parentKey .. ":failed", jobKey, reason)
    moveParentToWait(parent, now)
  elseif parent.idof or parent.rdof then
    rcall("SREM", deps, jobKey)
    if parent.idof then
      rcall("HSET", parentKey .. ":failed", jobKey, reason)
    end
    if rcall("SCARD", deps) == 0 then
      moveParentToWait(parent, now)
    end
  end
end

-- The decoded `parent` field of a job hash, or nil (also for bad JSON), from
-- the fields parentKey and parent as HMGET read them.
local function decodeParent(parentKey, parentJson)
  if parentKey and parentJson then
    local ok, parent = pcall(cjson.decode, parentJson)
    if ok and type(parent) == "table" and parent.id and parent.queueKey then
      return parentKey, parent
    end
  end
  return nil, nil
end
