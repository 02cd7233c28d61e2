"""``Job``: one job as read from its BullMQ hash, and the operations on it."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from . import scripts
from .codes import Finished, ReplyCode
from .driver import Call, Op, Pipeline, twin
from .errors import (
    InvalidOptionError,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    TimeoutError,
)
from .options import PRIORITY_LIMIT, check_int, duration_ms, encode_json, shown, to_python
from .text import as_bytes, lone_surrogate

if TYPE_CHECKING:
    from .queue import Queue


def now_ms() -> int:
    return int(time.time() * 1000)


def _int(value: str | None, default: int | None, field: str,
         malformed: dict[str, str]) -> int | None:
    """An integer hash field; missing reads as ``default``, garbage ("abc",
    "inf") too, marked in ``malformed``."""
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        try:
            return int(float(value))
        except (ValueError, OverflowError):
            malformed[field] = f"not a whole number: {value[:50]!r}"
            return default


def cancelled_reason(reason: str) -> str:
    return f"cancelled: {reason}" if reason else "cancelled"


INPUT_FIELDS = ("name", "data", "opts")  # what a processor is given to work on


def not_utf8_reason(job_id: str, raw: dict[str, str]) -> str | None:
    """Why a job cannot be run when bytes of its name, data or opts are not
    UTF-8 (replies decode them as lone surrogates); None when they are."""
    for field in INPUT_FIELDS:
        value = raw.get(field)
        start = None if value is None else lone_surrogate(value)
        if start is not None:
            stored = as_bytes(value)
            at = len(as_bytes(value[:start]))
            return (f"job {job_id} is not valid UTF-8 in {field!r} (byte 0x{stored[at]:02x} "
                    f"at offset {at}); it was not run")
    return None


def _not_json_number(text: str) -> float:
    """JSON has no NaN or infinity (Python's parser would take them, or 1e309
    as inf, which no other client can read back)."""
    value = float(text)
    if value in (float("inf"), float("-inf")) or value != value:
        raise ValueError(f"{text[:50]} is not a number JSON can hold")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Progress must be a number a bar can show: strict. Data and the rest take
# NaN and Infinity, which Python's json.dumps (and so Python bullmq) writes.
_STRICT = json.JSONDecoder(parse_float=_not_json_number, parse_constant=_refuse_constant)
_LENIENT = json.JSONDecoder()


def _json(value: str) -> Any:
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return value  # written by someone else, not JSON (or absurdly nested): keep the text


def _field_json(value: str, field: str, malformed: dict[str, str],
                decoder: json.JSONDecoder = _LENIENT) -> Any:
    """A JSON hash field; text that is not JSON is kept as it is, marked in ``malformed``."""
    try:
        return decoder.decode(value)
    except json.JSONDecodeError as exc:
        malformed[field] = f"not JSON ({exc.msg} at character {exc.pos})"
    except ValueError as exc:  # a number JSON cannot hold, or an integer too long
        malformed[field] = f"not JSON: {exc}"
    except RecursionError:
        malformed[field] = "not JSON: nested too deeply"
    return value


def _parent_problem(parent: Any) -> str | None:
    if not isinstance(parent, dict):
        return "not a JSON object"
    if not isinstance(parent.get("id"), str):
        return "no job id"
    if not isinstance(parent.get("queueKey"), str) or ":" not in parent["queueKey"]:
        return "no queue key"
    return None


class Job:
    """A job of a queue. Attributes mirror BullMQ's Job in Python names.

    Reading never fails on a malformed hash: a missing or garbage field reads
    as its default (0, None or the raw text), so a job written by another
    client can always be shown and removed; ``malformed`` says which fields
    were garbage, and why."""

    __slots__ = (
        "attempts_made",
        "attempts_started",
        "cancel_reason",
        "data",
        "deduplication_id",
        "deferred_failure",
        "delay",
        "failed_reason",
        "finished_on",
        "id",
        "malformed",
        "name",
        "opts",
        "parent",
        "parent_key",
        "priority",
        "processed_by",
        "processed_on",
        "progress",
        "queue",
        "raw",
        "returnvalue",
        "scheduler_id",
        "stacktrace",
        "stalled_counter",
        "timestamp",
        "token",
    )

    def __init__(self, queue: Queue, job_id: str, raw: dict[str, str]) -> None:
        # the worker builds one of these per job: keep it to plain lookups
        get = raw.get
        self.queue = queue
        self.id = job_id
        self.raw = raw
        # field -> what is wrong with it, for fields another client wrote that
        # BullMQ would not have; each such field reads as its default or raw text
        malformed: dict[str, str] = {}
        self.malformed = malformed
        self.name: str = get("name", "")
        value = get("data")
        self.data: Any = {} if value is None else _field_json(value, "data", malformed)
        value = get("opts")
        opts = {} if value is None else _field_json(value, "opts", malformed)
        if not isinstance(opts, dict):
            malformed.setdefault("opts", "not a JSON object")
            opts = {}
        self.opts: dict[str, Any] = to_python(opts)
        value = get("progress")
        self.progress: Any = (0 if value is None
                              else _field_json(value, "progress", malformed, _STRICT))
        value = get("returnvalue")
        self.returnvalue: Any = (None if value is None
                                 else _field_json(value, "returnvalue", malformed))
        self.failed_reason: str | None = get("failedReason")
        value = get("stacktrace")
        stack = [] if value is None else _field_json(value, "stacktrace", malformed)
        if not isinstance(stack, list):
            malformed.setdefault("stacktrace", "not a JSON list")
            stack = [str(stack)]
        self.stacktrace: list[str] = stack
        # attemptsMade is the pre-v5 name of atm
        self.attempts_made: int = (  # type: ignore[assignment]
            _int(get("attemptsMade"), None, "attemptsMade", malformed)
            or _int(get("atm"), 0, "atm", malformed))
        self.attempts_started: int = _int(get("ats"), 0, "ats", malformed)  # type: ignore[assignment]
        self.stalled_counter: int = _int(get("stc"), 0, "stc", malformed)  # type: ignore[assignment]
        self.timestamp: int = _int(  # type: ignore[assignment]
            get("timestamp"), 0, "timestamp", malformed)
        self.processed_on: int | None = _int(get("processedOn"), None, "processedOn", malformed)
        self.finished_on: int | None = _int(get("finishedOn"), None, "finishedOn", malformed)
        self.delay: int = _int(get("delay"), 0, "delay", malformed)  # type: ignore[assignment]
        self.priority: int = _int(  # type: ignore[assignment]
            get("priority"), 0, "priority", malformed)
        self.parent_key: str | None = get("parentKey")
        value = get("parent")
        self.parent: Any = None if value is None else _field_json(value, "parent", malformed)
        if value is not None and "parent" not in malformed:
            problem = _parent_problem(self.parent)
            if problem is not None:
                malformed["parent"] = problem
        self.processed_by: str | None = get("pb")
        self.deferred_failure: str | None = get("defa")
        self.scheduler_id: str | None = get("rjk")
        self.deduplication_id: str | None = get("deid")
        # set when Queue.cancel_job asked for it (read from the worker's thread too)
        self.cancel_reason: str | None = get("cancelled")
        self.token: str | None = None

    @classmethod
    def _added(cls, queue: Queue, job_id: str, raw: dict[str, str], data: Any,
              opts: dict[str, Any], timestamp: int, delay: int, priority: int) -> Job:
        """The job an add has just written (``raw`` as stored): built from the
        values in hand, with nothing to parse (the add's hot path)."""
        job = cls.__new__(cls)
        job.queue, job.id, job.raw, job.malformed = queue, job_id, raw, {}
        job.name, job.data, job.opts = raw["name"], data, opts
        job.progress, job.returnvalue, job.failed_reason, job.stacktrace = 0, None, None, []
        job.attempts_made = job.attempts_started = job.stalled_counter = 0
        job.timestamp, job.delay, job.priority = timestamp, delay, priority
        job.processed_on = job.finished_on = job.processed_by = None
        job.parent_key = job.parent = job.deferred_failure = job.scheduler_id = None
        job.deduplication_id = job.cancel_reason = job.token = None
        return job

    def __repr__(self) -> str:
        return f"<Job {self.queue.name}:{self.id} {self.name!r}>"

    @property
    def attempts(self) -> int:
        """Attempts allowed (the ``attempts`` option, 1 when unset)."""
        value = self.opts.get("attempts") or 1
        return value if isinstance(value, int) else 1

    @property
    def is_cancelled(self) -> bool:
        """True once ``Queue.cancel_job`` asked for this job to stop: a ``def``
        processor checks it between steps (an ``async def`` one is cancelled)."""
        return self.cancel_reason is not None

    def raise_if_cancelled(self) -> None:
        """Raise ``JobCancelledError`` if the job was cancelled."""
        if self.cancel_reason is not None:
            raise JobCancelledError(cancelled_reason(self.cancel_reason))

    @property
    def connection(self) -> Any:
        return self.queue.connection

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__
                if name not in ("queue", "raw", "token")}

    # -- operations --------------------------------------------------------------

    def _update_progress(self, progress: int | float | dict[str, Any]) -> Op[None]:
        """Set the progress (a number or a dict) and emit a ``progress`` event."""
        encoded = encode_json(progress, "progress")
        code = yield scripts.update_progress(self.queue.keys, self.id, encoded)
        scripts.raise_for_code(code, "update_progress", self.id)
        self.progress = progress
        if self.queue.on_progress is not None:  # a worker's "progress" event
            self.queue.on_progress(self, progress)

    update_progress, aupdate_progress = twin(_update_progress)

    def _log(self, text: str) -> Op[int]:
        """Append a line to the job's log; returns how many lines it keeps."""
        keep = self.opts.get("keep_logs")
        count = yield scripts.add_log(self.queue.keys, self.id, str(text),
                                      keep if isinstance(keep, int) else None)
        scripts.raise_for_code(count, "add_log", self.id)
        return int(count)

    log, alog = twin(_log)

    def _update_data(self, data: Any) -> Op[None]:
        """Replace the job's data."""
        encoded = encode_json(data, "job data")
        code = yield scripts.update_data(self.queue.keys, self.id, encoded)
        scripts.raise_for_code(code, "update_data", self.id)
        self.data = data

    update_data, aupdate_data = twin(_update_data)

    def _get_state(self) -> Op[str]:
        """completed, failed, delayed, prioritized, active, waiting,
        waiting-children or unknown."""
        return (yield scripts.get_state(self.queue.keys, self.id))

    get_state, aget_state = twin(_get_state)

    def _retry(self, state: str = "failed", reset_attempts_made: bool = False,
               reset_attempts_started: bool = False) -> Op[None]:
        """Run a failed (or completed) job again."""
        if state not in ("failed", "completed"):
            raise InvalidOptionError(
                f"retry state must be 'failed' or 'completed', not {shown(state)}")
        code = yield scripts.reprocess_job(
            self.queue.keys, self.id, state, bool(self.opts.get("lifo")),
            reset_attempts_made, reset_attempts_started)
        scripts.raise_for_code(code, "retry", self.id, state)
        self.failed_reason = None if state == "failed" else self.failed_reason
        self.finished_on = self.processed_on = None

    retry, aretry = twin(_retry)

    def _promote(self) -> Op[None]:
        """Move a delayed job to wait now."""
        code = yield scripts.promote(self.queue.keys, self.id)
        scripts.raise_for_code(code, "promote", self.id, "delayed")
        self.delay = 0

    promote, apromote = twin(_promote)

    def _remove(self) -> Op[bool]:
        """Remove the job. False when it is locked by a worker."""
        return (yield from self.queue._remove(self.id))

    remove, aremove = twin(_remove)

    def _remove_deduplication_key(self) -> Op[bool]:
        """Free the job's deduplication id if this job still owns it; True when
        a key was deleted."""
        if not self.deduplication_id:
            return False
        return bool((yield scripts.remove_deduplication_key(
            self.queue.keys, self.deduplication_id, self.id)))

    remove_deduplication_key, aremove_deduplication_key = twin(_remove_deduplication_key)

    def _change_delay(self, delay: Any) -> Op[None]:
        """Run a delayed job ``delay`` ms from now instead."""
        ms = duration_ms("delay", delay)
        code = yield scripts.change_delay(self.queue.keys, self.id, ms, now_ms())
        scripts.raise_for_code(code, "change_delay", self.id, "delayed")
        self.delay = ms

    change_delay, achange_delay = twin(_change_delay)

    def _change_priority(self, priority: int, lifo: bool = False) -> Op[None]:
        """Change the priority (0 for none)."""
        check_int("priority", priority, 0, PRIORITY_LIMIT)
        code = yield scripts.change_priority(self.queue.keys, self.id, priority, lifo)
        scripts.raise_for_code(code, "change_priority", self.id)
        self.priority = priority

    change_priority, achange_priority = twin(_change_priority)

    def _reload(self) -> Op[Job]:
        """Read the job hash again."""
        raw = yield Call(("HGETALL", self.queue.keys.job(self.id)))
        if not raw:
            raise JobNotFoundError(f"job {self.id} does not exist (reload)", -1)
        self.__init__(self.queue, self.id, raw)  # type: ignore[misc]
        return self

    reload, areload = twin(_reload)

    # -- flows ----------------------------------------------------------------------

    @property
    def key(self) -> str:
        """The job hash's key, as flows name jobs (``bull:queue:id``)."""
        return self.queue.keys.job(self.id)

    def _get_children_values(self) -> Op[dict[str, Any]]:
        """Return values of the completed children, by child key."""
        raw = yield Call(("HGETALL", self.key + ":processed"))
        return {k: _json(v) for k, v in raw.items()}

    get_children_values, aget_children_values = twin(_get_children_values)

    def _get_ignored_children_failures(self) -> Op[dict[str, str]]:
        """Failed reasons of children whose failure was ignored, by child key."""
        return (yield Call(("HGETALL", self.key + ":failed")))

    get_ignored_children_failures, aget_ignored_children_failures = twin(
        _get_ignored_children_failures)

    def _get_dependencies(self) -> Op[dict[str, Any]]:
        """The children in BullMQ's four groups: ``processed`` (key -> return
        value), ``unprocessed`` (keys still pending), ``ignored`` (key -> failed
        reason) and ``failed`` (keys of children that failed the parent)."""
        processed, pending, ignored, failed = yield Pipeline([
            Call(("HGETALL", self.key + ":processed")),
            Call(("SMEMBERS", self.key + ":dependencies")),
            Call(("HGETALL", self.key + ":failed")),
            Call(("ZRANGE", self.key + ":unsuccessful", 0, -1)),
        ])
        return {"processed": {k: _json(v) for k, v in processed.items()},
                "unprocessed": sorted(pending), "ignored": ignored, "failed": failed}

    get_dependencies, aget_dependencies = twin(_get_dependencies)

    def _get_dependencies_count(self) -> Op[dict[str, int]]:
        """How many children are in each group of ``get_dependencies``."""
        processed, pending, ignored, failed = yield Pipeline([
            Call(("HLEN", self.key + ":processed")),
            Call(("SCARD", self.key + ":dependencies")),
            Call(("HLEN", self.key + ":failed")),
            Call(("ZCARD", self.key + ":unsuccessful")),
        ])
        return {"processed": processed, "unprocessed": pending, "ignored": ignored,
                "failed": failed}

    get_dependencies_count, aget_dependencies_count = twin(_get_dependencies_count)

    def _wait_until_finished(self, timeout: float | None = None) -> Op[Any]:
        """Block until the job completes (returns its return value) or fails
        (raises ``JobFailedError``); ``timeout`` in seconds."""
        keys = self.queue.keys
        deadline = None if timeout is None else time.monotonic() + timeout
        last = yield Call(("XREVRANGE", keys["events"], "+", "-", "COUNT", 1))
        last_id = last[0][0] if last else "0-0"
        while True:
            code, value = yield scripts.is_finished(keys, self.id)
            if code == Finished.COMPLETED:
                return json.loads(value) if value is not None else None
            if code == Finished.FAILED:
                raise JobFailedError(value or "failed", self.id)
            if code == Finished.JOB_NOT_FOUND:
                raise JobNotFoundError(f"job {self.id} does not exist (wait_until_finished)",
                                       ReplyCode.JOB_NOT_FOUND)
            block = 1000
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"job {self.id} did not finish within {timeout} s")
                block = max(1, min(block, int(left * 1000)))
            reply = yield Call(("XREAD", "BLOCK", block, "STREAMS", keys["events"], last_id))
            if reply:
                entries = reply[0][1] if isinstance(reply, list) else next(iter(reply.values()))[0]
                if entries:
                    last_id = entries[-1][0]

    wait_until_finished, await_until_finished = twin(_wait_until_finished)

