-- The names in a space-separated list ("" for none).
local function fieldList(text)
  local names = {}
  for name in string.gmatch(text, "%S+") do
    names[#names + 1] = name
  end
  return names
end

-- A job hash, flat (field, value, ...): all of it when `fields` is empty, else
-- only those of `fields` that are present (lists read summaries: a job's data
-- may be megabytes).
local function readJobFields(jobKey, fields)
  if #fields == 0 then
    return rcall("HGETALL", jobKey)
  end
  local values = rcall("HMGET", jobKey, unpack(fields))
  local flat = {}
  for j, value in ipairs(values) do
    if value then
      flat[#flat + 1] = fields[j]
      flat[#flat + 1] = value
    end
  end
  return flat
end
