--- @include "remove_job_keys"
--- @include "remove_deduplication_key"

-- Delete a job that has already been taken out of its state: its keys, its
-- place in its parent's pending dependencies, and its deduplication key.
local function removeJobAndLinks(prefix, jobId, jobKey)
  local parentKey = rcall("HGET", jobKey, "parentKey")
  if parentKey then
    rcall("SREM", parentKey .. ":dependencies", jobKey)
  end
  removeDeduplicationKey(prefix, jobKey, jobId)
  removeJobKeys(jobKey)
end
