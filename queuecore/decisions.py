"""What a worker decides when an attempt ends, as pure functions: no I/O and
no ``Worker``. They take the job as fetched (``Attempt``: a ``Job`` is one)
and the worker's defaults, and return the ``scripts.Outcome`` that
move_to_finished.lua applies, or how to react to its reply code.

    returned           -> COMPLETE, kept by remove_on_complete
    RateLimitError     -> GIVE_BACK (no attempt counted)
    raised, attempts left, not UnrecoverableError
                       -> RETRY (backoff 0) or DELAY (backoff > 0 ms);
                          a backoff of -1, or one that raises, -> FAIL
    raised otherwise   -> FAIL, kept by remove_on_fail

The only state read besides the arguments is the backoff strategies
registered with ``queuecore.backoff.register`` (and ``random`` for jitter).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from . import backoff
from .codes import ReplyCode
from .errors import RATE_LIMIT_ERROR, UnrecoverableError, script_error
from .options import encode_json, keep_jobs
from .scripts import Outcome, Transition


class Attempt(Protocol):
    """What the decisions read of a job (``queuecore.Job`` has all of it)."""

    id: str
    token: str | None
    opts: dict[str, Any]
    attempts_made: int
    stacktrace: list[str]


@dataclass(frozen=True, slots=True)
class Defaults:
    """The worker's options that a job's own options override."""

    remove_on_complete: Any = None
    remove_on_fail: Any = None
    stack_trace_limit: int = 10


def int_option(value: Any, default: int) -> int:
    """An integer job option as stored, or the default when it holds something else."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def retention(job: Attempt, option: str, default: Any) -> tuple[int, int | None]:
    """(count, age in s) kept by the job's ``option`` (remove_on_complete or
    remove_on_fail), else the worker's ``default``; count -1 all, 0 none."""
    return keep_jobs(job.opts.get(option, default))


def completed(job: Attempt, value: str, defaults: Defaults) -> Outcome:
    """The attempt returned ``value`` (its JSON)."""
    count, age = retention(job, "remove_on_complete", defaults.remove_on_complete)
    return Outcome(job.id, job.token or "0", Transition.COMPLETE, value, keep_count=count,
                   keep_age=age)


def is_rate_limited(exc: BaseException) -> bool:
    # RateLimitError, or its message from a sandboxed processor (errors arrive as text)
    return str(exc) == RATE_LIMIT_ERROR


def stacktrace(job: Attempt, exc: BaseException, defaults: Defaults) -> str:
    """The job's stack traces with this one, the last stack_trace_limit kept (JSON)."""
    limit = int_option(job.opts.get("stack_trace_limit"), defaults.stack_trace_limit)
    trace = getattr(exc, "child_traceback", "") or "".join(traceback.format_exception(exc))
    stack = [*job.stacktrace, trace][-limit:] if limit else []
    return encode_json(stack, "stacktrace", foreign_bytes=True)


def retry_delay(job: Attempt, exc: BaseException) -> tuple[int | None, str]:
    """(ms before the next attempt, or None for no retry; a note for the
    failed reason when the backoff strategy itself failed)."""
    attempts = int_option(job.opts.get("attempts"), 0)
    made = job.attempts_made + 1
    if isinstance(exc, UnrecoverableError) or made >= attempts:
        return None, ""
    try:
        delay = backoff.delay_for(job.opts.get("backoff"), made, exc, job)
    except Exception as backoff_exc:
        return None, f" (backoff failed: {backoff_exc})"
    return (delay if delay >= 0 else None), ""


def failed(job: Attempt, exc: BaseException, defaults: Defaults) -> Outcome:
    """The attempt raised ``exc``."""
    token = job.token or "0"
    if is_rate_limited(exc):
        return Outcome(job.id, token, Transition.GIVE_BACK, "")
    reason = str(exc) or type(exc).__name__
    trace = stacktrace(job, exc, defaults)
    delay, note = retry_delay(job, exc)
    if delay is not None:
        return Outcome(job.id, token, Transition.DELAY if delay > 0 else Transition.RETRY,
                       reason, trace, delay=delay, lifo=bool(job.opts.get("lifo")))
    count, age = retention(job, "remove_on_fail", defaults.remove_on_fail)
    return Outcome(job.id, token, Transition.FAIL, reason + note, trace, keep_count=count,
                   keep_age=age, attempts=int_option(job.opts.get("attempts"), 0))


def failing_failed(job: Attempt, exc: BaseException, bad: BaseException) -> Outcome:
    """``failed`` itself raised (options of the wrong type, written by hand):
    fail for good, saying both."""
    return Outcome(job.id, job.token or "0", Transition.FAIL,
                   f"{exc} (and failing it raised: {bad!r})")


class Reaction(Enum):
    """What the worker does with one entry of move_to_finished's reply codes."""

    APPLIED = "applied"  # Redis took the transition: the job object follows, events fire
    GIVEN_BACK = "given back"  # back in wait, no attempt made: nothing to emit (as BullMQ)
    FAIL_INSTEAD = "fail instead"  # a flow parent that cannot complete: settle it as failed
    REFUSED = "refused"  # the script refused (lock lost, job gone): report an error


def reaction(code: int, transition: Transition) -> Reaction:
    if code == ReplyCode.OK:  # nearly every job: first
        return Reaction.GIVEN_BACK if transition is Transition.GIVE_BACK else Reaction.APPLIED
    if transition is Transition.COMPLETE and code in (ReplyCode.PENDING_CHILDREN,
                                                      ReplyCode.FAILED_CHILDREN):
        return Reaction.FAIL_INSTEAD
    if code < 0:
        return Reaction.REFUSED
    if transition is Transition.GIVE_BACK:
        return Reaction.GIVEN_BACK
    return Reaction.APPLIED  # OK, or ALREADY_APPLIED by the call whose reply was lost


def refusal(code: int, job_id: str) -> Exception:
    """The error for a refused transition. A parent with failed children fails
    for good (its children are final); pending children may still finish, so
    that one is retried as any error is (still active and locked, as in BullMQ)."""
    err = script_error(code, "move_to_finished", job_id, "active")
    return UnrecoverableError(str(err)) if code == ReplyCode.FAILED_CHILDREN else err
