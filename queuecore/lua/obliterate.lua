--[[
  Delete a paused queue and all its jobs, at most ARGV[2] jobs per call; the
  caller repeats while the reply is 1.

  KEYS: 1 meta, 2 queue key prefix
  ARGV: 1 "1" to force (remove active jobs too), 2 how many jobs per call
  Returns: 0 done, 1 more to delete, -1 the queue is not paused,
           -2 active jobs exist and force was not given.
]]
local rcall = redis.call
--- @include "remove_job_keys"

local prefix, budget = KEYS[2], tonumber(ARGV[2])
if rcall("HEXISTS", KEYS[1], "paused") == 0 then
  return -1
end
local activeKey = prefix .. "active"
if ARGV[1] ~= "1" and rcall("LLEN", activeKey) > 0 then
  return -2
end

local function removeFrom(suffix, isList)
  local key = prefix .. suffix
  local ids = isList and rcall("LRANGE", key, 0, budget - 1) or rcall("ZRANGE", key, 0, budget - 1)
  for _, jobId in ipairs(ids) do
    removeJobKeys(prefix .. jobId)
  end
  if #ids > 0 then
    if isList then
      rcall("LTRIM", key, #ids, -1)
    else
      rcall("ZREMRANGEBYRANK", key, 0, #ids - 1)
    end
  end
  budget = budget - #ids
  return budget <= 0
end

if removeFrom("active", true) then return 1 end
if removeFrom("delayed", false) then return 1 end
local schedulers = rcall("ZRANGE", prefix .. "repeat", 0, -1)
for _, id in ipairs(schedulers) do
  rcall("DEL", prefix .. "repeat:" .. id)
end
rcall("DEL", prefix .. "repeat")
if removeFrom("completed", false) then return 1 end
if removeFrom("wait", true) then return 1 end
if removeFrom("paused", true) then return 1 end
if removeFrom("prioritized", false) then return 1 end
if removeFrom("failed", false) then return 1 end
if removeFrom("waiting-children", false) then return 1 end
rcall("DEL", prefix .. "events", prefix .. "delay", prefix .. "stalled-check",
  prefix .. "stalled", prefix .. "id", prefix .. "pc", prefix .. "marker", prefix .. "limiter",
  prefix .. "metrics:completed", prefix .. "metrics:completed:data",
  prefix .. "metrics:failed", prefix .. "metrics:failed:data", KEYS[1])
return 0
