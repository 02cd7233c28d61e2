"""The Lua scripts' reply codes, by name: BullMQ's error codes (its
src/enums/error-code.ts) and move_to_finished's own. The same names and
numbers are the ``Code`` table of ``lua/includes/reply_codes.lua``
(tests/test_codes.py compares the two); every Python caller reads codes
through this enum."""

from __future__ import annotations

from enum import IntEnum


class ReplyCode(IntEnum):
    OK = 0
    ALREADY_APPLIED = 1  # move_to_finished: a resent outcome the lost call had applied
    JOB_NOT_FOUND = -1
    LOCK_MISSING = -2  # expired: the job may have stalled
    NOT_IN_STATE = -3
    PENDING_CHILDREN = -4
    PARENT_NOT_FOUND = -5
    LOCK_MISMATCH = -6  # held by another token
    PARENT_ALREADY_SET = -7
    SCHEDULER_ITERATION = -8
    FAILED_CHILDREN = -9
    SCHEDULER_ITERATION_EXISTS = -10
    SCHEDULER_SLOTS_BUSY = -11


class Finished(IntEnum):
    """is_finished.lua's first reply (its own codes)."""

    NOT_YET = 0
    COMPLETED = 1
    FAILED = 2
    JOB_NOT_FOUND = ReplyCode.JOB_NOT_FOUND


class Obliterated(IntEnum):
    """obliterate.lua's reply (its own codes, as BullMQ's obliterate)."""

    DONE = 0
    MORE = 1  # call again
    NOT_PAUSED = -1
    ACTIVE_JOBS = -2  # and force was not given
