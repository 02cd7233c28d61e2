--- @include "get_max_events"
--- @include "increment_job_counter"

-- Fetch up to `count` jobs for one worker, as BullMQ's moveToActive does one:
-- promote due delayed jobs; stop on the rate limiter, pause or global
-- concurrency; take from wait (tail first), then from prioritized; lock each
-- job, count its start, emit "active".
-- k: table of keys (wait, active, prioritized, events, limiter, delayed, meta,
--    pc, marker). w: worker arguments (prefix, timestamp, count, tokenBase,
--    tokenStart, lockDuration, limitMax, limitDuration, name).
-- Returns {rateLimitTtl, nextDelayedDue, jobId1, jobHash1, jobId2, ...}.
-- maxEvents may be nil: read here with the other meta fields (an idle
-- worker's fetch is the most frequent call: every command saved counts).
local function fetchNextJobs(k, w, maxEvents)
  local meta = rcall("HMGET", k.meta, "paused", "concurrency", "max", "duration",
    "opts.maxLenEvents")
  maxEvents = maxEvents or meta[5] or getMaxEvents(k.meta)
  local room = w.count
  local maxed = false
  if meta[2] then
    room = math.min(room, tonumber(meta[2]) - rcall("LLEN", k.active))
    maxed = room <= 0
  end
  local pausedOrMaxed = meta[1] ~= false or maxed
  promoteDelayedJobs(k.delayed, k.marker, k.wait, k.prioritized, k.events, w.prefix,
    w.timestamp, k.pc, pausedOrMaxed, maxEvents)

  local limitMax = tonumber(meta[3]) or w.limitMax
  local limitDuration = w.limitDuration or tonumber(meta[4])
  if limitMax then
    local used = tonumber(rcall("GET", k.limiter)) or 0
    if used >= limitMax then
      local ttl = rcall("PTTL", k.limiter)
      if ttl > 0 then
        return {ttl, 0}
      end
      if ttl == 0 then
        rcall("DEL", k.limiter)
      end
      -- a counter without expiry does not limit (as in BullMQ)
      used = ttl == -1 and nil or 0
    end
    if used then
      room = math.min(room, limitMax - used)
    end
  end
  if pausedOrMaxed or room <= 0 then
    return {0, 0}
  end

  local reply = {0, 0}
  local fetched = 0
  while fetched < room do
    local jobId = rcall("RPOPLPUSH", k.wait, k.active)
    if jobId and string.sub(jobId, 1, 2) == "0:" then
      -- a legacy (v4) marker: drop it and look again
      rcall("LREM", k.active, 1, jobId)
    else
      if not jobId then
        local popped = rcall("ZPOPMIN", k.prioritized)
        if popped[1] then
          jobId = popped[1]
          rcall("LPUSH", k.active, jobId)
        else
          rcall("DEL", k.pc)
          break
        end
      end
      fetched = fetched + 1
      local jobKey = w.prefix .. jobId
      -- a job that will fail at once (deferred failure) does not count
      if limitMax and limitDuration and rcall("HEXISTS", jobKey, "defa") == 0 then
        if rcall("INCR", k.limiter) == 1 then
          rcall("PEXPIRE", k.limiter, math.floor(math.abs(limitDuration)))
        end
      end
      rcall("SET", jobKey .. ":lock", w.tokenBase .. ":" .. (w.tokenStart + fetched - 1),
        "PX", w.lockDuration)
      rcall("XADD", k.events, "MAXLEN", "~", maxEvents, "*", "event", "active",
        "jobId", jobId, "prev", "waiting")
      if w.name ~= "" then
        rcall("HSET", jobKey, "processedOn", w.timestamp, "pb", w.name)
      else
        rcall("HSET", jobKey, "processedOn", w.timestamp)
      end
      incrementJobCounter(jobKey, "ats")
      reply[#reply + 1] = jobId
      reply[#reply + 1] = rcall("HGETALL", jobKey)
    end
  end
  if fetched == 0 then
    local nextDelayed = rcall("ZRANGE", k.delayed, 0, 0, "WITHSCORES")
    if nextDelayed[2] then
      reply[2] = math.floor(tonumber(nextDelayed[2]) / 4096)
    end
  elseif rcall("LLEN", k.wait) > 0 or rcall("ZCARD", k.prioritized) > 0 then
    -- more jobs are ready: wake another worker
    rcall("ZADD", k.marker, 0, "0")
  end
  return reply
end
