"""The read side of one queue, for pages and tools that show it: a summary,
the states of many jobs, a job's place in its flow, its schedulers with
their iterations' states, failures with what identifies their cause, and the
last hour's activity. Each is an operation (a generator of requests) that a
``Queue`` method runs with its sync and async twins; multi-queue reads are in
``overview.py``.

These reads take foreign data as it comes: a key of the wrong type is
reported (a summary's ``broken_keys``) or read as empty (states, flows),
never an error that hides the rest, and numbers that are not numbers read
as 0 or are left out."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import schedulers, scripts
from .clients import WorkerInfo, find_workers
from .cron import previous_run
from .driver import Call, Op, Pipeline
from .errors import InvalidOptionError, QueueCoreError
from .job import Job, now_ms
from .keys import (
    CHILD_KEYS,
    EXISTENCE_SUFFIXES,
    STATE_PROBES,
    STATE_SUFFIXES,
    QueueKeys,
    count_command,
    member_command,
    split_job_key,
)

if TYPE_CHECKING:
    from .queue import Queue

THROUGHPUT_WINDOW_MS = 5 * 60_000
# The states a summary counts, in the order of its calls.
SUMMARY_STATES = ("waiting", "active", "waiting-children", "prioritized", "delayed",
                  "completed", "failed", "paused")


# -- summaries ---------------------------------------------------------------------


@dataclass
class QueueSummary:
    """What an overview shows of one queue."""

    name: str
    counts: dict[str, int]  # per SUMMARY_STATES
    paused: bool
    workers: int  # live worker connections (0 when the server refuses CLIENT LIST)
    completed_recent: int  # finished in the last window_ms
    failed_recent: int
    window_ms: int = THROUGHPUT_WINDOW_MS
    broken_keys: list[str] = field(default_factory=list)  # suffixes not of BullMQ's type

    @property
    def throughput_per_min(self) -> float:
        return round(self.completed_recent / (self.window_ms / 60_000), 1)

    @property
    def waiting_without_workers(self) -> bool:
        return self.workers == 0 and (self.counts["waiting"] + self.counts["prioritized"]) > 0


def _summary_calls(keys: QueueKeys, since: int) -> list[Call]:
    calls = [Call((count_command(suffix), keys[suffix]))
             for suffix in (STATE_SUFFIXES[s] for s in SUMMARY_STATES)]
    return [*calls, Call(("HEXISTS", keys["meta"], "paused")),
            Call(("ZCOUNT", keys["completed"], since, "+inf")),
            Call(("ZCOUNT", keys["failed"], since, "+inf"))]


def _count(reply: Any) -> int:
    return reply if isinstance(reply, int) and not isinstance(reply, bool) else 0


def summaries(prefix: str, names: Sequence[str], window_ms: int = THROUGHPUT_WINDOW_MS
              ) -> Op[list[QueueSummary]]:
    """Summaries of the named queues in one round trip (counts, pause, recent
    finishes, and one CLIENT LIST for the workers); a queue whose keys are of
    the wrong type says which, and the others are read as ever."""
    return (yield from summaries_and_workers(prefix, names, window_ms))[0]


def summaries_and_workers(prefix: str, names: Sequence[str],
                          window_ms: int = THROUGHPUT_WINDOW_MS
                          ) -> Op[tuple[list[QueueSummary], dict[str, list[WorkerInfo]] | None]]:
    """``summaries``, and the live workers of each queue found in the same
    CLIENT LIST (None when the server refuses CLIENT, some hosted Redis do)."""
    now = now_ms()
    since = now - window_ms
    all_keys = [QueueKeys(prefix, name) for name in names]
    per_queue = [_summary_calls(keys, since) for keys in all_keys]
    calls = [call for queue_calls in per_queue for call in queue_calls]
    replies = yield Pipeline([*calls, Call(("CLIENT LIST",))], tolerant=True)
    listing = replies[-1]
    workers = None if isinstance(listing, Exception) else find_workers(listing, prefix, names, now)
    result = []
    n = len(SUMMARY_STATES)
    at = 0
    for name, keys, queue_calls in zip(names, all_keys, per_queue, strict=True):
        r = replies[at:at + len(queue_calls)]
        base_len = len(keys.base)
        broken = sorted({call.args[1][base_len:] for call, reply in zip(queue_calls, r, strict=True)
                         if isinstance(reply, Exception)})
        result.append(QueueSummary(
            name, dict(zip(SUMMARY_STATES, (_count(v) for v in r[:n]), strict=True)),
            r[n] == 1, len((workers or {}).get(name, ())), _count(r[n + 1]), _count(r[n + 2]),
            window_ms, broken))
        at += len(queue_calls)
    return result, workers


def exists(keys: QueueKeys) -> Op[bool]:
    """Whether the queue has a key of EXISTENCE_SUFFIXES (one EXISTS each, as a
    cluster without a hash-tagged prefix spreads them over slots)."""
    replies = yield Pipeline([Call(("EXISTS", keys[s])) for s in EXISTENCE_SUFFIXES])
    return any(replies)


# -- states and fields of many jobs ---------------------------------------------------


def states(keys: QueueKeys, job_ids: Iterable[str]) -> Op[dict[str, str]]:
    """The state of each job, probed in BullMQ's order, in one round trip:
    completed, failed, delayed, prioritized, active, waiting,
    waiting-children, or unknown (also when the keys that would hold it are
    not of BullMQ's type)."""
    ids = list(dict.fromkeys(str(i) for i in job_ids))
    if not ids:
        return {}
    calls = [Call((member_command(suffix), keys[suffix], job_id))
             for job_id in ids for _, suffix in STATE_PROBES]
    replies = yield Pipeline(calls, tolerant=True)
    n = len(STATE_PROBES)
    found = {}
    for i, job_id in enumerate(ids):
        hits = replies[i * n:(i + 1) * n]
        found[job_id] = next((state for (state, _), hit in zip(STATE_PROBES, hits, strict=True)
                              if hit is not None and not isinstance(hit, Exception)), "unknown")
    return found


def jobs_by_id(queue: Queue, job_ids: Sequence[str], fields: Sequence[str] | None = None
               ) -> Op[list[Job | None]]:
    """The jobs with these ids, in order (None: no hash, or not a hash), with
    only ``fields`` read when given (a job none of whose fields is set reads
    as None then too)."""
    ids = [str(i) for i in job_ids]
    if not ids:
        return []
    if fields:
        calls = [Call(("HMGET", queue.keys.job(i), *fields)) for i in ids]
    else:
        calls = [Call(("HGETALL", queue.keys.job(i))) for i in ids]
    replies = yield Pipeline(calls, tolerant=True)
    jobs: list[Job | None] = []
    for job_id, reply in zip(ids, replies, strict=True):
        if isinstance(reply, Exception) or not reply:
            jobs.append(None)
            continue
        raw = reply if not fields else {f: v for f, v in zip(fields, reply, strict=True)
                                        if v is not None}
        jobs.append(Job(queue, job_id, raw) if raw else None)
    return jobs


# -- a job's flow --------------------------------------------------------------------


@dataclass
class FlowNode:
    """A job in a flow seen from another job: a child (``status`` pending,
    processed, failed or ignored) or an ancestor (``status`` "parent")."""

    key: str  # the job's key, "<prefix>:<queue>:<id>"
    queue: str | None  # its queue's name; None when its key is under another prefix
    job_id: str
    status: str
    children: list[FlowNode] = field(default_factory=list)
    more: int = 0  # children left out (past max_children)


@dataclass
class JobTree:
    ancestors: list[FlowNode]  # nearest first
    children: list[FlowNode]
    more: int  # the job's children left out


def child_key_calls(job_key: str) -> list[Call]:
    """The reads of a parent's child keys, one per ``keys.CHILD_KEYS`` entry."""
    return [Call((command, job_key + suffix, 0, -1) if command == "ZRANGE"
                 else (command, job_key + suffix)) for _, suffix, command in CHILD_KEYS]


def job_tree(keys: QueueKeys, job_id: str, depth: int = 3, max_children: int = 50
             ) -> Op[JobTree]:
    """A job's ancestors (up to ``depth``) and children (``depth`` levels, at
    most ``max_children`` per job shown and the rest counted), from BullMQ's
    dependency keys: one round trip per level. A dependency key of the wrong
    type reads as empty."""
    job_key = keys.job(str(job_id))
    root = FlowNode(job_key, keys.name, str(job_id), "root")
    first = yield Pipeline([Call(("HGET", job_key, "parentKey")), *child_key_calls(job_key)],
                           tolerant=True)
    ancestors: list[FlowNode] = []
    parent_key = first[0]
    while isinstance(parent_key, str) and parent_key and len(ancestors) < depth:
        queue, parent_id = split_job_key(keys.prefix, parent_key)
        ancestors.append(FlowNode(parent_key, queue, parent_id, "parent"))
        parent_key = (yield Pipeline([Call(("HGET", parent_key, "parentKey"))],
                                     tolerant=True))[0]
    level, replies = [root], first[1:]
    n = len(CHILD_KEYS)
    for step in range(depth):
        if step:
            if not level:
                break
            replies = yield Pipeline([c for node in level for c in child_key_calls(node.key)],
                                     tolerant=True)
        below: list[FlowNode] = []
        for i, node in enumerate(level):
            total = 0
            for (status, _, _), members in zip(CHILD_KEYS, replies[n * i:n * i + n],
                                                strict=True):
                if isinstance(members, Exception):
                    continue
                for key in sorted(members):
                    total += 1
                    if len(node.children) < max_children:
                        queue, child_id = split_job_key(keys.prefix, key)
                        node.children.append(FlowNode(key, queue, child_id, status))
            node.more = total - len(node.children)
            below += node.children
        level = below
    return JobTree(ancestors, root.children, root.more)


# -- schedulers and their iterations -----------------------------------------------------


@dataclass
class SchedulerRun:
    """A job scheduler with its pending iteration (next run) and the one
    before it (last run, while retention keeps it), each with its state."""

    scheduler: schedulers.JobScheduler
    next_job_id: str | None
    next_state: str | None  # None: gone, or never added
    last_run_at: int | None  # ms
    last_job_id: str | None
    last_state: str | None  # None: gone (retention removed it) or never run


def _previous(s: schedulers.JobScheduler) -> int | None:
    if s.next is None or not s.iteration_count or s.iteration_count < 2:
        return None
    if s.every:
        return s.next - s.every
    if s.pattern:
        try:
            return previous_run(s.pattern, s.tz, s.next)
        except InvalidOptionError:
            return None  # a pattern only Node reads: no last run known
    return None


def scheduler_runs(queue: Queue, start: int = 0, end: int = -1, asc: bool = True
                   ) -> Op[list[SchedulerRun]]:
    """The queue's schedulers (by next run) with their iterations' states:
    two round trips whatever their number."""
    found = yield from schedulers.get_all(queue, start, end, asc)
    runs = []
    for s in found:
        next_id = f"repeat:{s.id}:{s.next}" if s.next is not None else None
        prev = _previous(s)
        last_id = f"repeat:{s.id}:{prev}" if prev is not None else None
        runs.append(SchedulerRun(s, next_id, None, prev, last_id, None))
    known = yield from states(queue.keys, [i for r in runs for i in (r.next_job_id,
                                                                     r.last_job_id) if i])
    for run in runs:
        for attr, job_id in (("next_state", run.next_job_id), ("last_state", run.last_job_id)):
            state = known.get(job_id) if job_id else None
            setattr(run, attr, None if state == "unknown" else state)
    return runs


# -- failures ------------------------------------------------------------------------------


def failure_summaries(keys: QueueKeys, start: int = 0, end: int = -1, reason_bytes: int = 1000,
                      job_ids: Sequence[str] = ()) -> Op[list[dict[str, str]]]:
    """Failed jobs, newest first (``start``..``end`` of the failed set), or the
    given ids, with what identifies their failure: ``id``, ``name``,
    ``failed_reason`` (its first ``reason_bytes``), ``finished_on``,
    ``timestamp``, ``in_failed`` ("1" when still in the failed set), ``opts``,
    ``top_frame`` (of the latest stack trace). Never data or whole traces;
    jobs without a hash are left out."""
    reply = yield scripts.failure_summaries(keys, start, end, reason_bytes, job_ids)
    return scripts.parse_failure_summaries(reply)


# -- the last hour ------------------------------------------------------------------------


@dataclass
class Activity:
    """Jobs finished per minute, oldest first with the current minute last,
    and the wait and run times of a sample of the newest finished jobs."""

    source: str  # "metrics" (BullMQ's metrics keys) or "finished jobs" (the finished sets)
    first_minute: int  # epoch minute of the first value
    completed: list[int]
    failed: list[int]
    waits: list[int] = field(default_factory=list)  # ms from added (plus delay) to started
    runs: list[int] = field(default_factory=list)  # ms from started to finished


_WHOLE = re.compile(r"-?[0-9]{1,18}")


def _whole(value: Any) -> int | None:
    """A number as workers write them; anything else ("²", "1e9", "") is None."""
    return int(value) if isinstance(value, str) and _WHOLE.fullmatch(value) else None


def per_minute(metrics: dict[str, Any], first_minute: int, minutes: int) -> list[int]:
    """BullMQ's metrics (as ``Queue.get_metrics`` returns them) as one value per
    minute from ``first_minute``: ``data`` holds finished minutes, newest first,
    ending with the minute before ``prev_ts``'s; ``count - prev_count`` is the
    minute of ``prev_ts`` so far; later minutes had no finish (a point is only
    written by a later finish)."""
    values = [0] * minutes
    meta = metrics["meta"]
    if not meta["prev_ts"]:
        return values
    prev_minute = meta["prev_ts"] // 60_000
    points = {prev_minute: max(0, meta["count"] - meta["prev_count"])}
    for i, value in enumerate(metrics["data"]):
        points[prev_minute - 1 - i] = max(0, value)
    for minute, value in points.items():
        if first_minute <= minute < first_minute + minutes:
            values[minute - first_minute] = value
    return values


def _metrics_calls(keys: QueueKeys, kind: str, points: int) -> list[Call]:
    key = keys.metrics(kind)
    return [Call(("HMGET", key, "count", "prevTS", "prevCount")),
            Call(("LRANGE", key + ":data", 0, points)), Call(("LLEN", key + ":data"))]


def activity(keys: QueueKeys, now: int | None = None, minutes: int = 60, sample: int = 1000
             ) -> Op[Activity]:
    """The last ``minutes`` of the queue: per-minute counts from BullMQ's
    metrics keys (written by workers started with ``metrics=...``, Node's
    too), else from the finished sets (which hold only what retention kept),
    and durations of the newest ``sample`` completed jobs. A key of the wrong
    type raises ``WrongTypeError``."""
    now = now or now_ms()
    now_minute = now // 60_000
    first = now_minute - minutes + 1
    replies = yield Pipeline([*_metrics_calls(keys, "completed", minutes),
                              *_metrics_calls(keys, "failed", minutes),
                              Call(("ZREVRANGEBYSCORE", keys["completed"], "+inf",
                                    first * 60_000, "LIMIT", 0, sample))])
    done, failed = scripts.parse_metrics(replies[0:3]), scripts.parse_metrics(replies[3:6])
    from_metrics = bool(done["meta"]["prev_ts"] or failed["meta"]["prev_ts"])
    # the finished sets' counts (without metrics) and the sample's fields: one round trip
    counting = [] if from_metrics else [
        Call(("ZCOUNT", keys[state], (first + i) * 60_000, f"({(first + i + 1) * 60_000}"))
        for state in ("completed", "failed") for i in range(minutes)]
    ids = replies[6] or []
    sampling = [Call(("HMGET", keys.job(i), "timestamp", "delay", "processedOn", "finishedOn"))
                for i in ids]
    more = (yield Pipeline([*counting, *sampling], tolerant=True)) if counting or sampling else []
    counts, rows = more[:len(counting)], more[len(counting):]
    if from_metrics:
        result = Activity("metrics", first, per_minute(done, first, minutes),
                          per_minute(failed, first, minutes))
    else:
        refused = next((c for c in counts if isinstance(c, QueueCoreError)), None)
        if refused is not None:  # a finished set of the wrong type raises, as documented
            raise refused
        result = Activity("finished jobs", first, [_count(c) for c in counts[:minutes]],
                          [_count(c) for c in counts[minutes:]])
    for row in rows:
        if isinstance(row, QueueCoreError):
            continue  # not a hash: left out
        added, delay, started, finished = (_whole(v) if v else 0 for v in row)
        if None in (added, delay, started, finished):
            continue  # written by someone else: left out
        if started and finished >= started:
            result.runs.append(finished - started)
            result.waits.append(max(0, started - added - delay))
    return result
