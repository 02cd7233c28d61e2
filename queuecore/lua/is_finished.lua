--[[
  Whether a job has finished, with its result.

  KEYS: 1 completed, 2 failed, 3 job hash
  ARGV: 1 job id
  Returns: {code, value}: 1 and the return value JSON when completed, 2 and the
           failed reason when failed, 0 when not finished, -1 when missing.
]]
local rcall = redis.call
if rcall("EXISTS", KEYS[3]) == 0 then
  return {-1, false}
end
if rcall("ZSCORE", KEYS[1], ARGV[1]) then
  return {1, rcall("HGET", KEYS[3], "returnvalue")}
end
if rcall("ZSCORE", KEYS[2], ARGV[1]) then
  return {2, rcall("HGET", KEYS[3], "failedReason")}
end
return {0, false}
