--[[
  Move up to ARGV[3] jobs to active for one worker (BullMQ's moveToActive,
  batched): see includes/fetch_next_jobs.lua.

  KEYS: 1 wait, 2 active, 3 prioritized, 4 events, 5 stalled, 6 limiter,
        7 delayed, 8 meta, 9 pc, 10 marker
  ARGV: 1 queue key prefix, 2 now (ms), 3 how many jobs, 4 lock token base,
        5 first token counter, 6 lock duration (ms), 7 limiter max or "",
        8 limiter duration or "", 9 worker name or ""
  Returns: {rate limit ttl, next delayed due, jobId1, jobHash1, ...}
  Events: waiting (promoted delayed jobs), active
]]
local rcall = redis.call
--- @include "worker_keys"
--- @include "add_base_marker_if_needed"
--- @include "add_job_with_priority"
--- @include "promote_delayed_jobs"
--- @include "fetch_next_jobs"

return fetchNextJobs(workerKeys(), workerArgs(), nil)
