-- Retention of a finished set (removeOnComplete / removeOnFail): drop jobs
-- older than keepAge seconds (at most 1000 per call) and all but the newest
-- keepCount (-1 keeps all).
local function removeOldFinished(setKey, prefix, timestamp, keepCount, keepAge)
  if keepAge then
    local old = rcall("ZRANGEBYSCORE", setKey, 0, timestamp - keepAge * 1000, "LIMIT", 0, 1000)
    for _, jobId in ipairs(old) do
      removeJobKeys(prefix .. jobId)
    end
    if #old > 0 then
      rcall("ZREM", setKey, unpack(old))
    end
  end
  if keepCount > 0 then
    local extra = rcall("ZRANGE", setKey, 0, -(keepCount + 1))
    for _, jobId in ipairs(extra) do
      removeJobKeys(prefix .. jobId)
    end
    if #extra > 0 then
      rcall("ZREMRANGEBYRANK", setKey, 0, #extra - 1)
    end
  end
end
