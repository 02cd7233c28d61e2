-- Write a scheduler: its score (next iteration ms) in `repeat` and its hash
-- `repeat:<id>`, rewritten whole with the fields of `s` that are set (name,
-- tz, limit, pattern, startDate, endDate, every, offset), the template opts
-- and data unless empty, and the iteration count `ic`, which survives
-- upserts (1 for a new scheduler). Without an offset the stored one is kept.
local function storeJobScheduler(repeatKey, schedulerId, nextMillis, s, templateData,
    templateOpts)
  local schedulerKey = repeatKey .. ":" .. schedulerId
  rcall("ZADD", repeatKey, nextMillis, schedulerId)
  local fields = {"name", s.name}
  for _, name in ipairs({"tz", "limit", "pattern", "startDate", "endDate", "every"}) do
    if s[name] then
      fields[#fields + 1] = name
      fields[#fields + 1] = s[name]
    end
  end
  local offset = s.offset or rcall("HGET", schedulerKey, "offset")
  if offset then
    fields[#fields + 1] = "offset"
    fields[#fields + 1] = tonumber(offset)
  end
  if templateOpts ~= "" and templateOpts ~= "{}" then
    fields[#fields + 1] = "opts"
    fields[#fields + 1] = templateOpts
  end
  if templateData ~= "" and templateData ~= "{}" then
    fields[#fields + 1] = "data"
    fields[#fields + 1] = templateData
  end
  fields[#fields + 1] = "ic"
  fields[#fields + 1] = rcall("HGET", schedulerKey, "ic") or 1
  rcall("DEL", schedulerKey)
  rcall("HSET", schedulerKey, unpack(fields))
end

-- Add iteration `jobId` of scheduler `schedulerId`, due at nextMillis: the
-- iteration's opts get its jobId and delay (BullMQ's addJobFromScheduler).
local function addIteration(q, schedulerId, jobId, name, data, jobOpts, nextMillis, now)
  local delay = math.max(nextMillis - now, 0)
  jobOpts["delay"] = delay
  jobOpts["jobId"] = jobId
  return addJobToQueue(q, {id = jobId, name = name, ts = now, data = data,
    opts = cjson.encode(jobOpts), delay = delay, priority = tonumber(jobOpts["priority"]) or 0,
    lifo = jobOpts["lifo"] == true, rjk = schedulerId}), delay
end
