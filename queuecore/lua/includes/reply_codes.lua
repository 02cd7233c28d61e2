-- The scripts' reply codes by name: BullMQ's error codes (its
-- src/enums/error-code.ts) and move_to_finished's own. The same names and
-- numbers are queuecore/codes.py's ReplyCode (tests/test_codes.py compares).
local Code = {
  OK = 0,
  ALREADY_APPLIED = 1,             -- a resent outcome the lost call had applied
  JOB_NOT_FOUND = -1,
  LOCK_MISSING = -2,               -- expired: the job may have stalled
  NOT_IN_STATE = -3,
  PENDING_CHILDREN = -4,
  PARENT_NOT_FOUND = -5,
  LOCK_MISMATCH = -6,              -- held by another token
  PARENT_ALREADY_SET = -7,
  SCHEDULER_ITERATION = -8,
  FAILED_CHILDREN = -9,
  SCHEDULER_ITERATION_EXISTS = -10,
  SCHEDULER_SLOTS_BUSY = -11,
}
