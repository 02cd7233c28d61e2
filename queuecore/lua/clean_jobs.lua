--[[
  Remove, in one bounded chunk, jobs of one state older than a cut-off.
  completed / failed: by finish time (the set's score). wait, paused, active
  (unlocked jobs only), delayed, prioritized: by the job's finishedOn,
  processedOn or timestamp, whichever is present first; pending scheduler
  iterations are kept. The caller repeats with the returned cursor.

  KEYS: 1 state key, 2 events, 3 meta
  ARGV: 1 queue key prefix, 2 state name, 3 cut-off (ms), 4 chunk size,
        5 cursor (entries kept so far), 6 jobs removed by earlier calls of this
        clean, 7 "1" when this chunk reaches the caller's limit
  Returns: {next cursor or -1 when the state has been scanned, removed ids...}
  Events: cleaned (count: the clean's total), from the clean's last call
]]
local rcall = redis.call
--- @include "get_max_events"
--- @include "is_scheduler_iteration"
--- @include "remove_job_and_links"

local prefix, state, cutoff = ARGV[1], ARGV[2], tonumber(ARGV[3])
local chunk, cursor = tonumber(ARGV[4]), tonumber(ARGV[5])
local isList = state == "wait" or state == "paused" or state == "active"
local removed = {}

local function drop(jobId, jobKey)
  removeJobAndLinks(prefix, jobId, jobKey)
  removed[#removed + 1] = jobId
end

local scanned
if state == "completed" or state == "failed" then
  local ids = rcall("ZRANGEBYSCORE", KEYS[1], 0, cutoff, "LIMIT", 0, chunk)
  for _, jobId in ipairs(ids) do
    drop(jobId, prefix .. jobId)
  end
  if #ids > 0 then
    rcall("ZREM", KEYS[1], unpack(ids))
  end
  scanned = ids
else
  if isList then
    -- oldest first: from the tail of the list
    scanned = rcall("LRANGE", KEYS[1], -(cursor + chunk), -(cursor + 1))
  else
    scanned = rcall("ZRANGE", KEYS[1], cursor, cursor + chunk - 1)
  end
  for _, jobId in ipairs(scanned) do
    local jobKey = prefix .. jobId
    local times = rcall("HMGET", jobKey, "finishedOn", "processedOn", "timestamp")
    local time = tonumber(times[1] or times[2] or times[3])
    local eligible = (time == nil or time <= cutoff)
      and not isSchedulerIteration(prefix, jobId, jobKey)
      and not (state == "active" and rcall("EXISTS", jobKey .. ":lock") == 1)
    if eligible then
      if isList then
        rcall("LREM", KEYS[1], -1, jobId)
      else
        rcall("ZREM", KEYS[1], jobId)
      end
      drop(jobId, jobKey)
    else
      cursor = cursor + 1
    end
  end
end
local nextCursor = #scanned < chunk and -1 or cursor
-- one event per clean, from its last call, with the total (0 included, as BullMQ)
if nextCursor == -1 or (ARGV[7] == "1" and #removed == chunk) then
  rcall("XADD", KEYS[2], "MAXLEN", "~", getMaxEvents(KEYS[3]), "*", "event", "cleaned",
    "count", tonumber(ARGV[6]) + #removed)
end
return {nextCursor, unpack(removed)}
