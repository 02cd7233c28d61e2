-- When an `every` scheduler fires next (BullMQ's getJobSchedulerEveryNextMillis).
-- First iteration (no prevMillis): startDate (or now if that has passed);
-- else, with an offset, the first slot floor(now/every)*every + offset after
-- now; else now. Later ones: prevMillis + every, or, when that has passed,
-- the first grid slot (plus offset) after now, skipping missed iterations.
-- Returns nextMillis and the offset (derived from nextMillis when none was set).
local function everyNextMillis(prevMillis, every, now, offset, startDate)
  offset = tonumber(offset)
  local nextMillis
  if not prevMillis then
    if startDate then
      nextMillis = math.max(tonumber(startDate), now)
    elseif offset and offset > 0 then
      nextMillis = math.floor(now / every) * every + offset
      if nextMillis <= now then
        nextMillis = nextMillis + every
      end
    else
      nextMillis = now
    end
  else
    nextMillis = prevMillis + every
    if nextMillis < now then
      nextMillis = math.floor(now / every) * every + (offset or 0)
      if nextMillis <= now then
        nextMillis = nextMillis + every
      end
    end
  end
  if not offset or offset == 0 then
    offset = nextMillis - math.floor(nextMillis / every) * every
  end
  return math.floor(nextMillis), math.floor(offset)
end
