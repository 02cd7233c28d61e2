"""Job schedulers (BullMQ 6's ``upsertJobScheduler``): a scheduler is a job
factory stored in ``<q>:repeat`` (id -> next run ms) and ``<q>:repeat:<id>``
(its definition). It always has one pending iteration job, id
``repeat:<scheduler id>:<run ms>``; when a worker starts that job, the next
iteration is added (``next_iteration``), exactly as Node BullMQ's workers do,
so either side's workers keep either side's schedulers going.

``every`` schedules are computed in Lua (``every_next_millis.lua``), cron
patterns here with croniter (``cron.py``). Iteration jobs carry, as Node's do,
``rjk`` (the scheduler id) and in their opts ``repeat`` (the repeat options and
the iteration ``count``), ``jobId``, ``delay``, ``timestamp``, ``repeatJobKey``
and, for patterns, ``prevMillis``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import cron, scripts
from . import options as job_options
from .codes import ReplyCode
from .driver import Call, Op, Pipeline
from .errors import InvalidOptionError, QueueCoreError, ScriptError
from .job import Job, now_ms

if TYPE_CHECKING:
    from .queue import Queue

# repeat option (Python name) -> the name BullMQ stores
REPEAT_NAMES = {
    "pattern": "pattern", "every": "every", "tz": "tz", "limit": "limit",
    "start_date": "startDate", "end_date": "endDate", "immediately": "immediately",
    "offset": "offset",
}
_CAMEL = {v: k for k, v in REPEAT_NAMES.items() if k != v}
# Job options a template may not have: every iteration sets them itself.
_NOT_IN_TEMPLATE = {
    "job_id": "iteration ids are repeat:<scheduler id>:<time>",
    "delay": "use repeat start_date (or offset for every)",
    "timestamp": "each iteration gets the time it is added",
    "parent": "iterations cannot be flow children",
}
LEGACY_ERROR = ("job scheduler {id!r} has no BullMQ 6 metadata (a v5 repeatable job?); "
                "migrate it: https://docs.bullmq.io/guide/migrations/migrate-from-v5-to-v6")


# Lua prints numbers with 14 significant digits: a later time (past the year
# 5138) would give iteration ids such as "repeat:s:1e+14".
MAX_EPOCH_MS = 10**14 - 1


def epoch_ms(name: str, value: Any) -> int:
    """A time as epoch ms: an int, or a timezone-aware datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidOptionError(
                f"{name} must be a timezone-aware datetime (or epoch ms), not {value!r}")
        return round(value.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidOptionError(
            f"{name} must be a timezone-aware datetime or epoch milliseconds, "
            f"not {job_options.shown(value)}")
    return job_options.check_int(name, value, 0, MAX_EPOCH_MS)


@dataclass(frozen=True, slots=True)
class RepeatSpec:
    """Validated repeat options (times in epoch ms)."""

    pattern: str | None = None
    every: int | None = None
    tz: str | None = None
    limit: int | None = None
    start_date: int | None = None
    end_date: int | None = None
    immediately: bool = False
    offset: int | None = None

    def stored(self) -> dict[str, Any]:
        """The repeat options as iteration opts carry them (BullMQ's names;
        ``immediately`` is not kept, and an offset only for ``every``)."""
        values = {"pattern": self.pattern, "every": self.every, "tz": self.tz,
                  "limit": self.limit, "startDate": self.start_date, "endDate": self.end_date,
                  "offset": self.offset if self.every else None}
        return {k: v for k, v in values.items() if v is not None}


def parse_repeat(repeat: Any, now: int) -> RepeatSpec:
    """Check Python-named repeat options; InvalidOptionError says what is wrong."""
    if not isinstance(repeat, dict):
        raise InvalidOptionError(
            f"repeat must be a dict such as {{'pattern': '0 9 * * *'}} or {{'every': 60000}}, "
            f"not {repeat!r}")
    for name in repeat:
        if name not in REPEAT_NAMES:
            hint = f"; did you mean {_CAMEL[name]!r}?" if name in _CAMEL else ""
            raise InvalidOptionError(
                f"unknown repeat option {name!r}{hint}; repeat options are "
                f"{', '.join(REPEAT_NAMES)}")
    values = {k: v for k, v in repeat.items() if v is not None}
    pattern, every = values.get("pattern"), values.get("every")
    if pattern is not None and every is not None:
        raise InvalidOptionError("repeat takes 'pattern' or 'every', not both")
    if pattern is None and every is None:
        raise InvalidOptionError(
            "repeat needs 'pattern' (a cron expression) or 'every' (an interval in ms)")
    if pattern is not None:
        cron.check_pattern(pattern)
        if "offset" in values:
            raise InvalidOptionError("repeat 'offset' applies to 'every' only, not to 'pattern'")
    else:
        every = job_options.duration_ms("repeat 'every'", every, minimum=1)
    tz = values.get("tz")
    if tz is not None:
        cron.zone(tz)
    limit = values.get("limit")
    if limit is not None:
        limit = job_options.check_int("repeat 'limit'", limit, 1)
    immediately = values.get("immediately", False)
    if not isinstance(immediately, bool):
        raise InvalidOptionError(f"repeat 'immediately' must be True or False, not {immediately!r}")
    start = values.get("start_date")
    start = None if start is None else epoch_ms("repeat 'start_date'", start)
    end = values.get("end_date")
    end = None if end is None else epoch_ms("repeat 'end_date'", end)
    if immediately and start is not None:
        raise InvalidOptionError("repeat 'immediately' and 'start_date' exclude each other")
    if end is not None and end < now:
        raise InvalidOptionError(f"repeat 'end_date' ({end}) is in the past")
    if end is not None and start is not None and end <= start:
        raise InvalidOptionError("repeat 'end_date' must come after 'start_date'")
    offset = values.get("offset")
    if offset is not None:
        offset = job_options.duration_ms("repeat 'offset'", offset)
    return RepeatSpec(pattern=pattern, every=every, tz=tz, limit=limit, start_date=start,
                      end_date=end, immediately=immediately, offset=offset)


def _template(queue: Queue, scheduler_id: str, template: Any
              ) -> tuple[str, str, dict[str, Any]]:
    """(name, data JSON, opts in BullMQ's names) of a scheduler's jobs."""
    if template is None:
        template = {}
    if not isinstance(template, dict) or set(template) - {"name", "data", "opts"}:
        raise InvalidOptionError(
            "template must be a dict with 'name', 'data' and 'opts' (job options), "
            f"not {template!r}")
    name = template.get("name") or scheduler_id
    if not isinstance(name, str):
        raise InvalidOptionError(f"template name must be a string, not {name!r}")
    job_options.check_text(name, "template name")
    data = template.get("data")
    opts = template.get("opts") or {}
    if not isinstance(opts, dict):
        raise InvalidOptionError(f"template opts must be a dict of job options, not {opts!r}")
    for option, why in _NOT_IN_TEMPLATE.items():
        if opts.get(option) is not None:
            raise InvalidOptionError(f"a job scheduler's jobs cannot have {option!r}: {why}")
    defaults = {k: v for k, v in queue.default_job_options.items() if k not in _NOT_IN_TEMPLATE}
    stored = job_options.validate(job_options.merge_defaults(defaults, opts))
    flags = [f for f in job_options.PARENT_FLAGS if f in stored]
    if flags:
        raise InvalidOptionError(f"a job scheduler's jobs cannot have {flags[0]!r}: "
                                 "iterations cannot be flow children")
    data_json = job_options.encode_json({} if data is None else data, "template data")
    return name, data_json, stored


def _pattern_next(spec: RepeatSpec, now: int) -> int | None:
    """Next run of a pattern scheduler (Node's defaultRepeatStrategy, then
    clamped to now): after max(now, start_date), None past end_date."""
    if spec.immediately:
        return now
    assert spec.pattern is not None
    found = cron.next_run(spec.pattern, spec.tz, max(now, spec.start_date or 0))
    if found is None or (spec.end_date is not None and found > spec.end_date):
        return None
    return max(found, now)


# Cron times (or `every` slots, in Lua) an upsert tries when their iterations exist.
SLOT_SCANS = 32


def _check_id(scheduler_id: Any) -> str:
    if not isinstance(scheduler_id, str) or not scheduler_id:
        raise InvalidOptionError(f"scheduler id must be a non-empty string, not {scheduler_id!r}")
    return job_options.check_text(scheduler_id, "scheduler id")


def upsert(queue: Queue, scheduler_id: str, repeat: Any, template: Any = None) -> Op[Job]:
    """Create or replace the scheduler; returns its pending iteration job."""
    _check_id(scheduler_id)
    now = now_ms()
    spec = parse_repeat(repeat, now)
    name, data, template_opts = _template(queue, scheduler_id, template)
    next_millis = None
    if spec.pattern is not None:
        next_millis = _pattern_next(spec, now)
        if next_millis is None:
            raise InvalidOptionError(
                f"cron pattern {spec.pattern!r} has no run "
                + ("before end_date" if spec.end_date is not None else "in the future"))
    definition = {"name": name, "tz": spec.tz, "pattern": spec.pattern, "every": spec.every,
                  "limit": spec.limit, "startDate": spec.start_date, "endDate": spec.end_date,
                  "offset": spec.offset if spec.every else None}
    for _ in range(SLOT_SCANS):
        iteration = {**template_opts, "repeat": {**spec.stored(), "count": 1},
                     "timestamp": now, "repeatJobKey": scheduler_id}
        if next_millis is not None:
            iteration.update(prevMillis=next_millis,
                             jobId=f"repeat:{scheduler_id}:{next_millis}",
                             delay=max(next_millis - now, 0))
        reply = yield scripts.add_job_scheduler(queue.keys, scheduler_id, next_millis,
                                                definition, data, template_opts, iteration, now)
        if reply != ReplyCode.SCHEDULER_ITERATION_EXISTS or next_millis is None:
            break
        # That cron time's iteration already ran or runs (it was promoted): as a
        # worker starting it would have, the scheduler goes on from the next time.
        taken = next_millis
        next_millis = _pattern_next(RepeatSpec(pattern=spec.pattern, tz=spec.tz,
                                               end_date=spec.end_date), taken)
        if next_millis is None:
            raise InvalidOptionError(
                f"job scheduler {scheduler_id!r}: cron pattern {spec.pattern!r} has no run "
                f"before end_date that has no job yet (repeat:{scheduler_id}:{taken} exists)")
    if reply == ReplyCode.SCHEDULER_ITERATION_EXISTS:
        raise ScriptError(f"job scheduler {scheduler_id!r}: the next {SLOT_SCANS} times of "
                          f"{spec.pattern!r} already have jobs (add_job_scheduler)",
                          ReplyCode.SCHEDULER_ITERATION_EXISTS)
    scripts.raise_for_code(reply, "add_job_scheduler", scheduler_id)
    job_id = str(reply[0])
    raw = yield Call(("HGETALL", queue.keys.job(job_id)))
    return Job(queue, job_id, raw)


def repeat_key(name: str, job_id: str | None, spec: RepeatSpec) -> str:
    """The scheduler id of ``add(name, repeat=...)``: BullMQ 5's repeatable-job
    key, md5 of ``name:jobId:endDate:tz:pattern-or-every``, so adding the same
    repeatable job twice updates one scheduler."""
    suffix = spec.pattern if spec.pattern is not None else str(spec.every)
    text = f"{name}:{job_id or ''}:{spec.end_date or ''}:{spec.tz or ''}:{suffix}"
    return hashlib.md5(text.encode()).hexdigest()


def add_repeatable(queue: Queue, name: str, data: Any, options: dict[str, Any]) -> Op[Job]:
    """``queue.add(name, data, repeat={...}, **job options)``: upserts a scheduler
    (id ``repeat["key"]``, else ``repeat_key``) whose template is this job."""
    options = dict(options)
    repeat = options.pop("repeat")
    if not isinstance(name, str):
        raise InvalidOptionError(f"job name must be a string, not {name!r}")
    if not isinstance(repeat, dict):
        parse_repeat(repeat, now_ms())  # raises the message about repeat's shape
    repeat = dict(repeat)
    key = repeat.pop("key", None)
    job_id = options.pop("job_id", None)
    if job_id is not None and not isinstance(job_id, str):
        raise InvalidOptionError(f"job_id must be a string, not {job_id!r}")
    scheduler_id = repeat_key(name, job_id, parse_repeat(repeat, now_ms())) if key is None \
        else _check_id(key)
    template = {"name": name, "data": data, "opts": options}
    return (yield from upsert(queue, scheduler_id, repeat, template))


# -- reading ---------------------------------------------------------------------------


def _int(value: str | None) -> int | None:
    """A number field; garbage ("abc", "inf", "1e309") reads as None."""
    try:
        return None if value is None else int(float(value))
    except (ValueError, OverflowError):
        return None


@dataclass(frozen=True, slots=True)
class JobScheduler:
    """A job scheduler as stored (by queuecore or Node BullMQ); times in epoch ms.

    ``template`` holds the iterations' ``data`` and ``opts`` (Python option
    names) when the scheduler has any; ``next`` is the pending iteration's time."""

    id: str
    name: str
    next: int | None
    iteration_count: int | None = None
    pattern: str | None = None
    every: int | None = None
    tz: str | None = None
    limit: int | None = None
    start_date: int | None = None
    end_date: int | None = None
    offset: int | None = None
    template: dict[str, Any] | None = None

    @classmethod
    def from_hash(cls, scheduler_id: str, raw: dict[str, str], score: Any) -> JobScheduler:
        template: dict[str, Any] = {}
        for field in ("data", "opts"):
            if raw.get(field):
                try:
                    template[field] = json.loads(raw[field])
                except ValueError:
                    template[field] = raw[field]
        if isinstance(template.get("opts"), dict):
            template["opts"] = job_options.to_python(template["opts"])
        return cls(id=scheduler_id, name=raw.get("name", ""), next=_int(score),
                   iteration_count=_int(raw.get("ic")), pattern=raw.get("pattern") or None,
                   every=_int(raw.get("every")), tz=raw.get("tz") or None,
                   limit=_int(raw.get("limit")), start_date=_int(raw.get("startDate")),
                   end_date=_int(raw.get("endDate")), offset=_int(raw.get("offset")),
                   template=template or None)


def get(queue: Queue, scheduler_id: str) -> Op[JobScheduler | None]:
    score, raw = yield Pipeline([Call(("ZSCORE", queue.keys["repeat"], scheduler_id)),
                                 Call(("HGETALL", f"{queue.keys['repeat']}:{scheduler_id}"))])
    if score is None or not raw:
        return None
    return JobScheduler.from_hash(scheduler_id, raw, score)


def get_all(queue: Queue, start: int = 0, end: int = -1, asc: bool = False
            ) -> Op[list[JobScheduler]]:
    """Schedulers by next run time (latest first unless ``asc``), as Node's
    getJobSchedulers; ids in ``repeat`` without a hash (v5 leftovers) are skipped."""
    key = queue.keys["repeat"]
    reply = yield Call(("ZRANGE" if asc else "ZREVRANGE", key, start, end, "WITHSCORES"))
    if reply and isinstance(reply[0], list | tuple):  # RESP3: [member, score] pairs
        pairs = [(member, score) for member, score in reply]
    else:
        pairs = list(zip(reply[::2], reply[1::2], strict=True))
    if not pairs:
        return []
    hashes = yield Pipeline([Call(("HGETALL", f"{key}:{sid}")) for sid, _ in pairs])
    return [JobScheduler.from_hash(sid, raw, score)
            for (sid, score), raw in zip(pairs, hashes, strict=True) if raw]


def count(queue: Queue) -> Op[int]:
    return int((yield Call(("ZCARD", queue.keys["repeat"]))))


def remove(queue: Queue, scheduler_id: str) -> Op[bool]:
    """Remove the scheduler and its delayed iteration; False if there was none."""
    return (yield scripts.remove_job_scheduler(queue.keys, scheduler_id)) == 0


# -- the next iteration, when a worker starts one -------------------------------------


def _normalized_backoff(value: Any) -> Any:
    # what Node's Job constructor does to opts.backoff before it is re-stored
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"type": "fixed", "delay": value}
    return value or None


def next_iteration(queue: Queue, job: Job) -> Op[str | None]:
    """Add the iteration after ``job`` (an iteration that a worker has just
    moved to active), as Node's worker does with ``upsertJobScheduler(...,
    {override: false, producerId: job.id})``: nothing past the repeat
    ``limit`` or ``endDate``. Returns the new iteration's id, or None."""
    scheduler_id = job.scheduler_id
    try:
        opts = json.loads(job.raw.get("opts") or "{}")
    except ValueError:
        opts = None
    if not scheduler_id or not isinstance(opts, dict):
        return None
    repeat = opts.get("repeat") if isinstance(opts.get("repeat"), dict) else {}
    pattern, every = repeat.get("pattern"), repeat.get("every")
    if not pattern and not every:
        raise QueueCoreError(f"iteration {job.id} of job scheduler {scheduler_id!r} has "
                             "neither repeat.pattern nor repeat.every in its opts")
    count = repeat.get("count")
    iteration = count + 1 if isinstance(count, int) and count else 1
    limit = repeat.get("limit")
    if isinstance(limit, int) and iteration > limit:
        return None
    now = now_ms()
    end = repeat.get("endDate")
    if isinstance(end, int | float) and end and now > end:
        return None
    prev = opts.get("prevMillis")
    now = max(now, prev if isinstance(prev, int) else 0)
    next_millis = None
    if pattern:
        start = repeat.get("startDate")
        spec = RepeatSpec(pattern=pattern, tz=repeat.get("tz"),
                          start_date=start if isinstance(start, int) else None,
                          end_date=end if isinstance(end, int) else None)
        next_millis = _pattern_next(spec, now)
        if next_millis is None:
            return None
    new = {"attempts": 0, **opts}
    new.pop("repeatJobKey", None)
    new["backoff"] = _normalized_backoff(new.get("backoff"))
    offset = repeat.get("offset")
    new["repeat"] = {**repeat, "offset": offset if every and offset else None,
                     "count": iteration, "startDate": repeat.get("startDate") or None,
                     "endDate": end or None}
    new["repeat"] = {k: v for k, v in new["repeat"].items() if v is not None}
    new.update(timestamp=now_ms(), repeatJobKey=scheduler_id, prevMillis=next_millis,
               jobId=None if next_millis is None else f"repeat:{scheduler_id}:{next_millis}",
               delay=None if next_millis is None else max(next_millis - now_ms(), 0))
    reply = yield scripts.update_job_scheduler(queue.keys, scheduler_id, next_millis, new,
                                               now_ms(), job.id)
    if reply == 1:
        raise QueueCoreError(LEGACY_ERROR.format(id=scheduler_id))
    return reply if isinstance(reply, str) else None

