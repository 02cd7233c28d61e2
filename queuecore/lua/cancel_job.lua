--[[
  Ask the worker running a job to cancel it (Queue.cancel_job). Not a BullMQ
  transition: the job stays active until its worker ends the attempt. The
  request is kept in the job hash (field `cancelled`, the reason) and
  published, so the worker hears it at once, a worker that missed the message
  finds it at its next lock renewal, and a job recovered as stalled after its
  worker died is failed instead of run again.

  KEYS: 1 job hash, 2 active
  ARGV: 1 job id, 2 reason, 3 pub/sub channel ("<prefix>:<queue>:cancel")
  Returns: 1, -1 no such job, -3 the job is not active.
  Publishes: JSON {"jobId", "reason"} on the channel.
]]
local rcall = redis.call
--- @include "reply_codes"
if rcall("EXISTS", KEYS[1]) == 0 then
  return Code.JOB_NOT_FOUND
end
if not rcall("LPOS", KEYS[2], ARGV[1]) then
  return Code.NOT_IN_STATE
end
rcall("HSET", KEYS[1], "cancelled", ARGV[2])
rcall("PUBLISH", ARGV[3], cjson.encode({jobId = ARGV[1], reason = ARGV[2]}))
return 1
