--[[
  Remove every job waiting to run (wait, legacy paused, prioritized and, if
  asked, delayed), keeping the pending iterations of job schedulers.

  KEYS: 1 wait, 2 paused (legacy), 3 prioritized, 4 delayed
  ARGV: 1 queue key prefix, 2 "1" to drain delayed jobs too
  Returns: how many jobs were removed.
]]
local rcall = redis.call
--- @include "is_scheduler_iteration"
--- @include "remove_job_and_links"

local prefix = ARGV[1]
local count = 0

local function drainKey(key, isList)
  local ids = isList and rcall("LRANGE", key, 0, -1) or rcall("ZRANGE", key, 0, -1)
  for _, jobId in ipairs(ids) do
    local jobKey = prefix .. jobId
    if not isSchedulerIteration(prefix, jobId, jobKey) then
      if isList then
        rcall("LREM", key, 0, jobId)
      else
        rcall("ZREM", key, jobId)
      end
      removeJobAndLinks(prefix, jobId, jobKey)
      count = count + 1
    end
  end
end

drainKey(KEYS[1], true)
drainKey(KEYS[2], true)
drainKey(KEYS[3], false)
if ARGV[2] == "1" then
  drainKey(KEYS[4], false)
end
return count
