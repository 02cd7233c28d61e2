"""Exceptions raised by queuecore.

    QueueCoreError                  root of everything queuecore raises
    ├── InvalidOptionError          a bad argument or job option (also a ValueError)
    ├── InvalidQueueNameError       a queue name that BullMQ cannot store (also a ValueError)
    ├── SerializationError          data or a return value that is not JSON (also a TypeError)
    ├── ScriptError                 a Lua script refused a transition; ``code`` says why
    │   ├── JobNotFoundError        the job does not exist (-1)
    │   ├── LockError               the lock is missing or held by another worker (-2, -6)
    │   └── JobNotInStateError      the job is not in the state the call needs (-3)
    ├── RedisCommandError           Redis answered with an error (also a redis-py RedisError)
    │   ├── WrongTypeError          a key holds another type than BullMQ's layout (WRONGTYPE)
    │   ├── OutOfMemoryError        the server is at maxmemory and refused a write (OOM)
    │   └── ReadOnlyError           the server is a read-only replica (READONLY)
    ├── ConnectionFailedError       Redis could not be reached (also a ConnectionError)
    ├── ScriptLoaderError           a Lua file has a missing or circular include
    ├── JobFailedError              wait_until_finished: the job failed
    └── TimeoutError                wait_until_finished ran out of time

Errors a processor raises to steer the worker:

    UnrecoverableError              fail the job now, whatever attempts remain
    └── JobCancelledError           the job was cancelled while it ran
    RateLimitError                  give the job back to wait (no attempt counted) and
                                    wait out the queue's rate limit
"""

from __future__ import annotations

import builtins

import redis.exceptions

from .codes import ReplyCode


class QueueCoreError(Exception):
    """Root of every exception queuecore raises."""


class InvalidOptionError(QueueCoreError, ValueError):
    """An argument or job option is unknown or out of range; nothing was written."""


class InvalidQueueNameError(QueueCoreError, ValueError):
    """A queue name is empty or contains ':' (BullMQ's key separator)."""


class SerializationError(QueueCoreError, TypeError):
    """Job data or a return value cannot be encoded as JSON."""


class ScriptLoaderError(QueueCoreError):
    """A Lua script could not be assembled from its includes."""


class ConnectionFailedError(QueueCoreError, builtins.ConnectionError):
    """Redis could not be reached; the operation did not happen."""


class RedisCommandError(QueueCoreError, redis.exceptions.RedisError):
    """Redis answered a command or a script with an error (a Lua error, a
    key of the wrong type, memory, a replica). The message names the command
    and Redis's words; the redis-py exception is ``__cause__``. Also a
    redis-py ``RedisError``, so code that caught those still catches it."""

    def __init__(self, message: str, command: str = "") -> None:
        super().__init__(message)
        self.command = command

    def __repr__(self) -> str:  # not redis-py's "server:ClassName"
        return f"{type(self).__name__}({str(self)!r})"


class WrongTypeError(RedisCommandError):
    """A key holds another type of value than BullMQ's layout has there
    (written by someone else): Redis's WRONGTYPE, or a script that found it
    before writing anything."""


class OutOfMemoryError(RedisCommandError):
    """The server reached ``maxmemory`` and refused a write (Redis's OOM)."""


class ReadOnlyError(RedisCommandError):
    """The server is a read-only replica (Redis's READONLY)."""


# Redis's error prefixes (the first word of the reply) -> the class raised.
REDIS_ERROR_PREFIXES: dict[str, type[RedisCommandError]] = {
    "WRONGTYPE": WrongTypeError,
    "OOM": OutOfMemoryError,
    "READONLY": ReadOnlyError,
}


class TimeoutError(QueueCoreError, builtins.TimeoutError):
    """Waiting for a job ran out of time."""


class ScriptError(QueueCoreError):
    """A transition was refused by its Lua script.

    ``code`` is BullMQ's error code (see ``ERROR_CODES``)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class JobNotFoundError(ScriptError):
    """The job does not exist (BullMQ code -1)."""


class LockError(ScriptError):
    """The job's lock is missing (-2) or held by another worker (-6)."""


class JobNotInStateError(ScriptError):
    """The job is not in the state the operation needs (-3)."""


class JobFailedError(QueueCoreError):
    """``wait_until_finished``: the job failed; the message is its failed reason."""

    def __init__(self, reason: str, job_id: str) -> None:
        super().__init__(reason)
        self.job_id = job_id


class UnrecoverableError(Exception):
    """Raised by a processor: fail the job at once, without further attempts."""


class JobCancelledError(UnrecoverableError):
    """The job was cancelled (``Queue.cancel_job``) while it ran. Raised by
    ``job.raise_if_cancelled()``; a processor that lets it (or asyncio's
    CancelledError) out fails the job with no further attempt, one that raises
    another error instead is retried as usual."""
# BullMQ's message, which is what its workers (and ours, for sandboxed
# processors whose exceptions arrive as text) recognise the error by.
RATE_LIMIT_ERROR = "bullmq:rateLimitExceeded"


class RateLimitError(Exception):
    """Raised by a processor, usually after ``queue.rate_limit(ms)``: the job
    goes back to the front of wait without counting an attempt, and the
    worker waits until the queue's limiter key expires."""

    def __init__(self, message: str = RATE_LIMIT_ERROR) -> None:
        super().__init__(message)


# What each error code means (codes.ReplyCode names them).
ERROR_CODES: dict[int, tuple[type[ScriptError], str]] = {
    ReplyCode.JOB_NOT_FOUND: (JobNotFoundError, "job {job_id} does not exist"),
    ReplyCode.LOCK_MISSING: (LockError, "missing lock for job {job_id}: it was taken as stalled"),
    ReplyCode.NOT_IN_STATE: (JobNotInStateError, "job {job_id} is not in the {state} state"),
    ReplyCode.PENDING_CHILDREN: (ScriptError, "job {job_id} has pending children"),
    ReplyCode.PARENT_NOT_FOUND: (JobNotFoundError, "parent job of {job_id} does not exist"),
    ReplyCode.LOCK_MISMATCH: (LockError, "lock of job {job_id} is held by another worker"),
    ReplyCode.PARENT_ALREADY_SET: (ScriptError, "job {job_id} already belongs to another parent"),
    ReplyCode.SCHEDULER_ITERATION: (
        ScriptError, "job {job_id} is the pending iteration of a job scheduler"),
    ReplyCode.FAILED_CHILDREN: (ScriptError, "job {job_id} has failed children"),
    ReplyCode.SCHEDULER_ITERATION_EXISTS: (
        ScriptError, "job scheduler iteration {job_id} already exists"),
    ReplyCode.SCHEDULER_SLOTS_BUSY: (
        ScriptError, "job scheduler {job_id}: the next 32 time slots already have jobs"),
}


def script_error(code: int, command: str, job_id: str = "", state: str = "") -> ScriptError:
    """The exception for a negative reply code of a script."""
    cls, template = ERROR_CODES.get(code, (ScriptError, "error code {code} for job {job_id}"))
    message = template.format(job_id=job_id, state=state or "expected", code=code)
    return cls(f"{message} ({command})", code)
