-- HINCRBY a job's counter (atm, ats, stc). A field holding garbage (written by
-- someone else) restarts at 1 instead of failing the script half-way.
local function incrementJobCounter(jobKey, field)
  local count = redis.pcall("HINCRBY", jobKey, field, 1)
  if type(count) == "table" then
    rcall("HSET", jobKey, field, 1)
    return 1
  end
  return count
end
