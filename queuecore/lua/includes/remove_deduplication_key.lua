-- Delete a job's deduplication key if it still points at this job.
local function removeDeduplicationKey(prefix, jobKey, jobId)
  local dedupId = rcall("HGET", jobKey, "deid")
  if dedupId then
    local dedupKey = prefix .. "de:" .. dedupId
    if rcall("GET", dedupKey) == jobId then
      rcall("DEL", dedupKey, prefix .. "dn:" .. dedupId)
    end
  end
end
