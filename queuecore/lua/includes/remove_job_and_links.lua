--- @include "remove_job_keys"
--- @include "remove_deduplication_key"
--- @include "move_parent_to_wait"

-- Take a job out of its parent's pending dependencies; the last one to go
-- releases the parent (in the parent's own queue). `now` (ms) may be nil: the
-- server's clock is then read, only when a parent is released.
local function unlinkFromParent(jobKey, now)
  local fields = rcall("HMGET", jobKey, "parentKey", "parent")
  if fields[1] and rcall("SREM", fields[1] .. ":dependencies", jobKey) == 1
      and rcall("SCARD", fields[1] .. ":dependencies") == 0 and fields[2] then
    local ok, parent = pcall(cjson.decode, fields[2])
    if ok and type(parent) == "table" and parent.id and parent.queueKey then
      if not now then
        local t = rcall("TIME")
        now = t[1] * 1000 + math.floor(t[2] / 1000)
      end
      moveParentToWait(parent, now)
    end
  end
end

-- Delete a job that has already been taken out of its state: its keys, its
-- place in its parent's pending dependencies, and its deduplication key
-- (unless keepDedupKey: retention of a finished job leaves that to its ttl).
local function removeJobAndLinks(prefix, jobId, jobKey, keepDedupKey)
  unlinkFromParent(jobKey)
  if not keepDedupKey then
    removeDeduplicationKey(prefix, jobKey, jobId)
  end
  removeJobKeys(jobKey)
end
