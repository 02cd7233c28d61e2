-- The keys a fetching script receives, in this order, as a table by name.
local function workerKeys()
  return {wait = KEYS[1], active = KEYS[2], prioritized = KEYS[3], events = KEYS[4],
    stalled = KEYS[5], limiter = KEYS[6], delayed = KEYS[7], meta = KEYS[8], pc = KEYS[9],
    marker = KEYS[10]}
end

-- Worker arguments shared by the fetching scripts, from ARGV[1..9].
local function workerArgs()
  return {prefix = ARGV[1], timestamp = tonumber(ARGV[2]), count = tonumber(ARGV[3]),
    tokenBase = ARGV[4], tokenStart = tonumber(ARGV[5]), lockDuration = tonumber(ARGV[6]),
    limitMax = tonumber(ARGV[7]), limitDuration = tonumber(ARGV[8]), name = ARGV[9]}
end
