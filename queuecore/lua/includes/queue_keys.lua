-- The keys of the queue whose keys start with `base` ("bull:q:"). Flows reach
-- a parent's queue this way, from the qualified name in the child's `parent`.
local function queueKeys(base)
  return {base = base, wait = base .. "wait", meta = base .. "meta", id = base .. "id",
    delayed = base .. "delayed", prioritized = base .. "prioritized", pc = base .. "pc",
    events = base .. "events", marker = base .. "marker", active = base .. "active",
    wc = base .. "waiting-children", completed = base .. "completed",
    failed = base .. "failed"}
end
