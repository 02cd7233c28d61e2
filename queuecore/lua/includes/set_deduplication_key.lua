-- Point a deduplication key at jobId, expiring after de.ttl ms when there is
-- one; with keepLastIfActive never (the key must outlive the active owner).
local function setDeduplicationKey(key, jobId, de)
  if de and de.ttl and de.ttl > 0 and not de.keepLastIfActive then
    rcall("SET", key, jobId, "PX", de.ttl)
  else
    rcall("SET", key, jobId)
  end
end
