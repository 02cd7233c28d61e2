-- Marker "0" (score 0) tells blocked workers that jobs are ready now.
local function addBaseMarkerIfNeeded(markerKey, pausedOrMaxed)
  if not pausedOrMaxed then
    rcall("ZADD", markerKey, 0, "0")
  end
end
