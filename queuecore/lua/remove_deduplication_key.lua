--[[
  Delete a deduplication key if it still points at the given job (BullMQ's
  removeDeduplicationKey, used by job.remove_deduplication_key()).

  KEYS: 1 the deduplication key (<q>:de:<id>)
  ARGV: 1 job id
  Returns: 1 deleted, 0 the key is missing or owned by another job
  Events: none
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
