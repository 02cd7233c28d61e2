"""The one place that calls Lua: builds each script's keys and arguments and
parses its reply. Pure functions, no I/O; the callers yield the ``Eval``
requests they return (see ``connection.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgpack

from .driver import Eval
from .errors import script_error
from .keys import STATE_PROBES, QueueKeys, is_list
from .text import ENCODING_ERRORS


@dataclass(slots=True)
class EncodedJob:
    """A job as add_job.lua takes it."""

    name: str
    data: str
    opts: str
    timestamp: int
    job_id: str = ""
    delay: int = 0
    priority: int = 0
    lifo: bool = False
    parent_key: str = ""
    parent: str = ""  # the `parent` field: JSON with id, queueKey and a failure flag
    waiting_children: bool = False  # a flow parent: waits for its children
    queue_base: str = ""  # another queue's key prefix (flows); "" for the caller's
    dedup: dict[str, Any] | None = None  # the stored opts.de (deduplication)

    def packed(self, queue_index: int) -> dict[str, Any]:
        job: dict[str, Any] = {
            "q": queue_index, "id": self.job_id, "name": self.name, "ts": self.timestamp,
            "data": self.data, "opts": self.opts, "delay": self.delay,
            "priority": self.priority, "lifo": self.lifo}
        if self.parent_key:
            job.update(pk=self.parent_key, pj=self.parent,
                       pdk=self.parent_key + ":dependencies")
        if self.waiting_children:
            job["wc"] = True
        if self.dedup:
            job["de"] = self.dedup
        return job


def add_jobs(keys: QueueKeys, jobs: Sequence[EncodedJob]) -> Eval:
    """One add_job call for jobs of this queue and, for flows, of others."""
    bases = [keys.base]
    packed = []
    for job in jobs:
        base = job.queue_base or keys.base
        if base not in bases:
            bases.append(base)
        packed.append(job.packed(bases.index(base) + 1))
    return Eval("add_job", bases, [msgpack.packb(packed)])


def check_added(reply: list[Any], jobs: Sequence[EncodedJob]) -> list[str]:
    """The ids added; a refused job (a negative code, the other entries 0:
    nothing was written) raises its error."""
    for value, job in zip(reply, jobs, strict=True):
        if isinstance(value, int) and value < 0:
            raise script_error(value, "add_job", job.job_id or job.name)
    return [str(v) for v in reply]


@dataclass(slots=True)
class WorkerArgs:
    """What a worker sends with every fetching call."""

    token_base: str
    lock_duration: int
    limit_max: int | None = None
    limit_duration: int | None = None
    name: str = ""
    token_counter: int = 0
    max_metrics: int | None = None  # metrics={"max_data_points": n}; None: no metrics

    def argv(self, keys: QueueKeys, now: int, count: int) -> list[Any]:
        start = self.token_counter
        self.token_counter += count
        return [keys.base, now, count, self.token_base, start, self.lock_duration,
                "" if self.limit_max is None else self.limit_max,
                "" if self.limit_duration is None else self.limit_duration, self.name]

    def token(self, start: int, index: int) -> str:
        return f"{self.token_base}:{start + index}"


@dataclass(slots=True)
class Fetched:
    """Jobs handed to a worker: (id, raw hash, lock token) triples."""

    jobs: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    rate_limit_ttl: int = 0
    next_delayed: int = 0
    codes: list[int] = field(default_factory=list)


def move_to_active(keys: QueueKeys, worker: WorkerArgs, now: int, count: int) -> Eval:
    return Eval("move_to_active", keys.fetch_keys, worker.argv(keys, now, count))


class Transition(StrEnum):
    """How a job leaves active in move_to_finished.lua; each is the Lua
    include ``lua/includes/transition_<name>.lua``."""

    COMPLETE = "complete"  # to completed (or removed, by retention)
    FAIL = "fail"  # to failed for good
    RETRY = "retry"  # back to wait now: attempts remain, no backoff delay
    DELAY = "delay"  # to delayed for the backoff
    GIVE_BACK = "give_back"  # to the front of wait, no attempt counted (RateLimitError)


@dataclass(slots=True)
class Outcome:
    """How one attempt ended, as move_to_finished.lua takes it."""

    job_id: str
    token: str
    transition: Transition
    value: str  # return value JSON (complete) or failed reason
    stacktrace: str = ""  # JSON list (fail, retry, delay)
    keep_count: int = -1  # retention (complete, fail): -1 all, 0 none, n
    keep_age: int | None = None  # retention: seconds, None: any age
    attempts: int = 0  # fail: the job's attempts, for retries-exhausted
    delay: int = 0  # delay: backoff ms
    lifo: bool = False  # retry: to the front of wait
    # sent again after a lost reply: (atm, ats, stc) as the job was fetched,
    # so the script can tell that the lost call finished it already
    resent: tuple[int, int, int] | None = None

    def packed(self) -> tuple[Any, ...]:
        """The fields in the order move_to_finished.lua unpacks them."""
        return (self.job_id, self.token, self.transition.value, self.value, self.stacktrace,
                self.keep_count, -1 if self.keep_age is None else self.keep_age,
                self.attempts, self.delay, 1 if self.lifo else 0, self.resent or ())


def move_to_finished(keys: QueueKeys, worker: WorkerArgs, now: int, outcomes: Sequence[Outcome],
                     fetch: int) -> Eval:
    args = worker.argv(keys, now, fetch)
    packed = [o.packed() for o in outcomes]
    try:
        args.append(msgpack.packb(packed))
    except UnicodeEncodeError:
        # lone surrogates stand for bytes that were not UTF-8: they go back as they came
        args.append(msgpack.packb(packed, unicode_errors=ENCODING_ERRORS))
    args.append("" if worker.max_metrics is None else worker.max_metrics)
    return Eval("move_to_finished", keys.finish_keys, args)


def parse_fetched(reply: list[Any], token_start: int, worker: WorkerArgs,
                  with_codes: bool = False) -> Fetched:
    result = Fetched()
    if with_codes:
        result.codes = reply[0]
        reply = reply[1:]
    result.rate_limit_ttl = int(reply[0])
    result.next_delayed = int(reply[1])
    for i in range(2, len(reply), 2):
        flat = reply[i + 1]
        raw = dict(zip(flat[::2], flat[1::2], strict=True))
        result.jobs.append((reply[i], raw, worker.token(token_start, (i - 2) // 2)))
    return result


def recover_fetched(keys: QueueKeys, worker: WorkerArgs,
                    lost: Sequence[tuple[int, int]]) -> Eval:
    """The jobs fetched for ``worker`` by calls whose replies were lost:
    ``lost`` holds each call's (first token number, jobs it could fetch)."""
    return Eval("recover_fetched", [keys["active"]],
                [keys.base, worker.token_base, *(n for pair in lost for n in pair)])


def parse_recovered(reply: list[Any]) -> list[tuple[str, dict[str, str], str]]:
    jobs = []
    for i in range(0, len(reply), 3):
        flat = reply[i + 2]
        jobs.append((reply[i], dict(zip(flat[::2], flat[1::2], strict=True)), reply[i + 1]))
    return jobs


def move_job_to_wait(keys: QueueKeys, job_id: str, token: str) -> Eval:
    return Eval("move_job_to_wait", [keys[s] for s in (
        "active", "wait", "prioritized", "events", "stalled", "marker", "meta",
    )] + [keys.job(job_id)], [job_id, token])


def extend_locks(keys: QueueKeys, lock_duration: int, locks: Sequence[tuple[str, str]]) -> Eval:
    args: list[Any] = [keys.base, lock_duration]
    for job_id, token in locks:
        args += [job_id, token]
    return Eval("extend_locks", [keys["stalled"]], args)


def move_stalled_jobs_to_wait(keys: QueueKeys, max_stalled: int, now: int,
                              interval: int) -> Eval:
    return Eval("move_stalled_jobs_to_wait", [keys[s] for s in (
        "stalled", "wait", "active", "stalled-check", "meta", "marker", "events", "repeat",
    )], [max_stalled, keys.base, now, interval])


def pause(keys: QueueKeys, paused: bool) -> Eval:
    return Eval("pause", [keys[s] for s in (
        "meta", "marker", "events", "wait", "paused", "prioritized", "delayed",
    )], ["paused" if paused else "resumed", "1"])


def get_jobs(keys: QueueKeys, suffixes: Sequence[str], start: int, end: int, asc: bool,
             fields: Sequence[str] = ()) -> Eval:
    return Eval("get_jobs", [keys.base],
                [start, end, "1" if asc else "0", " ".join(fields), *suffixes])


def parse_jobs(reply: list[Any]) -> list[tuple[str, dict[str, str]]]:
    jobs = []
    for i in range(0, len(reply), 2):
        flat = reply[i + 1]
        jobs.append((reply[i], dict(zip(flat[::2], flat[1::2], strict=True))))
    return jobs


def get_state(keys: QueueKeys, job_id: str) -> Eval:
    return Eval("get_state", [keys[suffix] for _, suffix in STATE_PROBES], [job_id])


def update_progress(keys: QueueKeys, job_id: str, progress: str) -> Eval:
    return Eval("update_progress", [keys.job(job_id), keys["events"], keys["meta"]],
                [job_id, progress])


def update_data(keys: QueueKeys, job_id: str, data: str) -> Eval:
    return Eval("update_data", [keys.job(job_id)], [data])


def add_log(keys: QueueKeys, job_id: str, line: str, keep: int | None) -> Eval:
    job_key = keys.job(job_id)
    return Eval("add_log", [job_key, keys.logs(job_id)], [line, "" if keep is None else keep])


def is_finished(keys: QueueKeys, job_id: str) -> Eval:
    return Eval("is_finished", [keys["completed"], keys["failed"], keys.job(job_id)], [job_id])


def remove_job(keys: QueueKeys, job_id: str, now: int) -> Eval:
    return Eval("remove_job", [keys.job(job_id), keys["events"], keys["meta"]],
                [keys.base, job_id, now])


def promote(keys: QueueKeys, job_id: str) -> Eval:
    return Eval("promote", [keys[s] for s in (
        "delayed", "wait", "prioritized", "pc", "marker", "meta", "active", "events",
    )] + [keys.job(job_id)], [job_id])


def reprocess_job(keys: QueueKeys, job_id: str, state: str, lifo: bool,
                  reset_attempts_made: bool, reset_attempts_started: bool) -> Eval:
    return Eval("reprocess_job", [keys.job(job_id), keys[state], keys["wait"], keys["marker"],
                                  keys["meta"], keys["active"], keys["events"],
                                  keys["prioritized"], keys["pc"]],
                [job_id, state, *("1" if f else "0" for f in (
                    lifo, reset_attempts_made, reset_attempts_started))])


def move_jobs_to_wait(keys: QueueKeys, state: str, count: int, max_score: int | str) -> Eval:
    return Eval("move_jobs_to_wait", [keys[state], keys["wait"], keys["marker"], keys["meta"],
                                      keys["active"], keys["events"]],
                [keys.base, state, count, max_score])


def clean_jobs(keys: QueueKeys, state: str, cutoff: int, chunk: int, cursor: int,
               removed: int, last: bool) -> Eval:
    return Eval("clean_jobs", [keys[state], keys["events"], keys["meta"]],
                [keys.base, state, cutoff, chunk, cursor, removed, "1" if last else "0"])


def drain(keys: QueueKeys, delayed: bool) -> Eval:
    return Eval("drain", [keys["wait"], keys["paused"], keys["prioritized"], keys["delayed"]],
                [keys.base, "1" if delayed else "0"])


def obliterate(keys: QueueKeys, force: bool, count: int) -> Eval:
    return Eval("obliterate", [keys["meta"], keys.base], ["1" if force else "0", count])


def change_delay(keys: QueueKeys, job_id: str, delay: int, now: int) -> Eval:
    return Eval("change_delay", [keys["delayed"], keys.job(job_id), keys["events"], keys["meta"],
                                 keys["marker"]], [job_id, delay, now])


def change_priority(keys: QueueKeys, job_id: str, priority: int, lifo: bool) -> Eval:
    return Eval("change_priority", [keys[s] for s in (
        "wait", "prioritized", "pc", "marker", "meta", "active",
    )] + [keys.job(job_id)], [job_id, priority, "1" if lifo else "0"])


def get_metrics(keys: QueueKeys, kind: str, start: int, end: int) -> Eval:
    key = keys.metrics(kind)
    return Eval("get_metrics", [key, key + ":data"], [start, end])


def parse_metrics(reply: list[Any]) -> dict[str, Any]:
    """As BullMQ's Queue.getMetrics shapes it (missing or garbage numbers read as 0)."""
    (count, prev_ts, prev_count), data, length = reply
    return {"meta": {"count": _int0(count), "prev_ts": _int0(prev_ts),
                     "prev_count": _int0(prev_count)},
            "data": [_int0(point) for point in data], "count": int(length)}


def _int0(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return 0


def remove_deduplication_key(keys: QueueKeys, dedup_id: str, job_id: str) -> Eval:
    return Eval("remove_deduplication_key", [keys["de:" + dedup_id]], [job_id])


def raise_for_code(code: Any, command: str, job_id: str = "", state: str = "") -> None:
    """Raise the specific error when a script replied with a negative code."""
    if isinstance(code, int) and code < 0:
        raise script_error(code, command, job_id, state)


def cancel_job(keys: QueueKeys, job_id: str, reason: str) -> Eval:
    return Eval("cancel_job", [keys.job(job_id), keys["active"]],
                [job_id, reason, keys["cancel"]])


def get_rate_limit_ttl(keys: QueueKeys, max_jobs: int) -> Eval:
    """max_jobs 0: the global max (meta.max) if set, else the plain PTTL."""
    return Eval("get_rate_limit_ttl", [keys["limiter"], keys["meta"]], [max_jobs])


def _packed_map(values: dict[str, Any]) -> bytes:
    # unset values are left out, as Node's msgpack of undefined (nil in Lua) is
    return msgpack.packb({k: v for k, v in values.items() if v is not None})


def add_job_scheduler(keys: QueueKeys, scheduler_id: str, next_millis: int | None,
                      scheduler: dict[str, Any], template_data: str,
                      template_opts: dict[str, Any],
                      iteration_opts: dict[str, Any], now: int) -> Eval:
    return Eval("add_job_scheduler", [keys.base], [
        scheduler_id, "" if next_millis is None else next_millis, _packed_map(scheduler),
        template_data, _packed_map(template_opts), _packed_map(iteration_opts), now])


def update_job_scheduler(keys: QueueKeys, scheduler_id: str, next_millis: int | None,
                         iteration_opts: dict[str, Any], now: int, producer_id: str) -> Eval:
    return Eval("update_job_scheduler", [keys.base], [
        scheduler_id, "" if next_millis is None else next_millis, _packed_map(iteration_opts),
        now, producer_id])


def remove_job_scheduler(keys: QueueKeys, scheduler_id: str) -> Eval:
    return Eval("remove_job_scheduler", [keys.base], [scheduler_id])


def failure_summaries(keys: QueueKeys, start: int, end: int, reason_bytes: int,
                      job_ids: Sequence[str] = ()) -> Eval:
    """A page of the failed set (or the given ids) with what identifies each failure."""
    return Eval("failure_summaries", [keys["failed"]],
                [keys.base, start, end, reason_bytes, *job_ids])


def parse_failure_summaries(reply: list[Any]) -> list[dict[str, str]]:
    names = ("name", "failed_reason", "finished_on", "timestamp", "in_failed", "opts",
             "top_frame")
    return [{"id": reply[i], **dict(zip(names, reply[i + 1], strict=True))}
            for i in range(0, len(reply), 2)]


@dataclass(slots=True)
class SearchChunk:
    """One search_jobs reply: where to go on ("" when the state is read), how
    many jobs were looked at, how many the state holds, and the matches."""

    cursor: str
    looked: int
    total: int
    jobs: list[tuple[str, dict[str, str]]]


def search_jobs(keys: QueueKeys, suffix: str, cursor: str, chunk: int, budget: int, want: int,
                fields: Sequence[str], match: Sequence[str]) -> Eval:
    """``match`` is ("all",), ("sub", field, needle) or ("kv", "", path, value)."""
    kind = "list" if is_list(suffix) else "zset"
    return Eval("search_jobs", [keys[suffix]],
                [keys.base, kind, cursor, chunk, budget, want, " ".join(fields), *match])


def parse_search(reply: list[Any]) -> SearchChunk:
    return SearchChunk(str(reply[0]), int(reply[1]), int(reply[2]), parse_jobs(reply[3:]))
