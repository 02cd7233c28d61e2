--[[
  Add jobs: store each job hash and place it in wait, prioritized or delayed.
  One call adds a whole batch (Queue.add is a batch of one).

  KEYS: 1 wait, 2 meta, 3 id, 4 delayed, 5 prioritized, 6 pc, 7 events,
        8 marker, 9 active
  ARGV: 1 queue key prefix ("bull:name:")
        then 11 per job: custom id or "", name, timestamp, data JSON, opts JSON,
        delay ms, priority, lifo ("1"/"0"), parent key or "", parent JSON or "",
        parent dependencies key or ""
  Returns: one entry per job: the job id (the existing one for a duplicate
           custom id), or -5 when the parent job does not exist.
  Events: added, then waiting or delayed; duplicated for an existing custom id.
]]
local rcall = redis.call
--- @include "get_max_events"
--- @include "is_paused_or_maxed"
--- @include "add_base_marker_if_needed"
--- @include "add_delay_marker_if_needed"
--- @include "get_delayed_score"
--- @include "add_job_with_priority"

local prefix = ARGV[1]
local maxEvents = getMaxEvents(KEYS[2])
local pausedOrMaxed = isPausedOrMaxed(KEYS[2], KEYS[9])
local results = {}
local stride = 11

for i = 2, #ARGV, stride do
  local customId, name, timestamp, data, opts = ARGV[i], ARGV[i + 1], ARGV[i + 2],
    ARGV[i + 3], ARGV[i + 4]
  local delay, priority, lifo = tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]), ARGV[i + 7]
  local parentKey, parent, depsKey = ARGV[i + 8], ARGV[i + 9], ARGV[i + 10]

  if parentKey ~= "" and rcall("EXISTS", parentKey) == 0 then
    results[#results + 1] = -5
  else
    local counter = rcall("INCR", KEYS[3])
    local jobId = customId ~= "" and customId or tostring(counter)
    local jobKey = prefix .. jobId
    if customId ~= "" and rcall("EXISTS", jobKey) == 1 then
      rcall("XADD", KEYS[7], "MAXLEN", "~", maxEvents, "*", "event", "duplicated", "jobId", jobId)
    else
      local fields = {"name", name, "data", data, "opts", opts, "timestamp", timestamp,
        "delay", delay, "priority", priority}
      if parentKey ~= "" then
        fields[#fields + 1] = "parentKey"
        fields[#fields + 1] = parentKey
        fields[#fields + 1] = "parent"
        fields[#fields + 1] = parent
      end
      rcall("HSET", jobKey, unpack(fields))
      rcall("XADD", KEYS[7], "MAXLEN", "~", maxEvents, "*", "event", "added", "jobId", jobId,
        "name", name)
      if delay > 0 then
        local score, due = getDelayedScore(KEYS[4], timestamp, delay)
        rcall("ZADD", KEYS[4], score, jobId)
        rcall("XADD", KEYS[7], "MAXLEN", "~", maxEvents, "*", "event", "delayed", "jobId", jobId,
          "delay", due)
        addDelayMarkerIfNeeded(KEYS[8], KEYS[4])
      else
        if priority > 0 then
          addJobWithPriority(KEYS[5], priority, jobId, KEYS[6])
        else
          rcall(lifo == "1" and "RPUSH" or "LPUSH", KEYS[1], jobId)
        end
        addBaseMarkerIfNeeded(KEYS[8], pausedOrMaxed)
        rcall("XADD", KEYS[7], "MAXLEN", "~", maxEvents, "*", "event", "waiting", "jobId", jobId)
      end
      if depsKey ~= "" then
        rcall("SADD", depsKey, jobKey)
      end
    end
    results[#results + 1] = jobId
  end
end
return results
