"""``Queue``: adding jobs and administering a queue."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from . import discovery, reads, schedulers, scripts
from . import options as job_options
from .clients import find_workers
from .codes import Obliterated, ReplyCode
from .connection import Connection
from .driver import Call, Op, Pipeline, twin
from .errors import InvalidOptionError, QueueCoreError
from .job import Job, now_ms
from .keys import STATE_SUFFIXES, QueueKeys, count_command
from .limits import RateLimits
from .options import shown

if TYPE_CHECKING:
    from .search import SearchProgress

STATES = STATE_SUFFIXES  # public state names -> key suffixes
DEFAULT_COUNT_STATES = ("active", "completed", "delayed", "failed", "prioritized", "waiting",
                        "waiting-children")
# What a job list needs of each job (no data, return value or stack trace).
SUMMARY_FIELDS = ("name", "timestamp", "delay", "priority", "processedOn", "finishedOn",
                  "atm", "attemptsMade", "ats", "progress", "failedReason", "opts",
                  "parentKey", "rjk", "defa")
CLEANABLE = ("completed", "failed", "delayed", "wait", "waiting", "active", "paused",
             "prioritized")


def _suffix(state: str) -> str:
    try:
        return STATES[state]
    except KeyError:
        raise InvalidOptionError(
            f"unknown job state {shown(state)}; states are {', '.join(sorted(STATES))}") from None


def _states(states: str | Iterable[str] | None, default: Sequence[str]) -> list[str]:
    if states is None:
        return list(default)
    if isinstance(states, str):
        return [states]
    return list(states)


class Queue(RateLimits):
    """A BullMQ queue: ``Queue("email", connection="redis://...")``.

    Every method has an asyncio twin with an ``a`` prefix (``add`` / ``aadd``)."""

    def __init__(self, name: str, connection: Any = None, prefix: str = "bull",
                 default_job_options: dict[str, Any] | None = None) -> None:
        self.name = name
        self.prefix = prefix
        self.keys = QueueKeys(prefix, name)
        self.connection = connection if isinstance(connection, Connection) \
            else Connection(connection)
        self.default_job_options = dict(default_job_options or {})
        # set by a Worker: called with (job, progress) after job.update_progress()
        self.on_progress: Callable[[Job, Any], None] | None = None
        job_options.validate(self.default_job_options)  # fail early on a typo

    def __repr__(self) -> str:
        return f"<Queue {self.keys.qualified}>"

    # -- adding --------------------------------------------------------------------

    def _encode(self, name: str, data: Any, opts: dict[str, Any]) -> tuple[scripts.EncodedJob,
                                                                          dict[str, Any]]:
        if not isinstance(name, str) or not name:
            raise InvalidOptionError(f"job name must be a non-empty string, not {shown(name)}")
        job_options.check_text(name, "job name")
        merged = job_options.merge_defaults(self.default_job_options, opts)
        stored = job_options.validate(merged)
        stored.setdefault("attempts", 0)
        timestamp = stored.pop("timestamp", None) or now_ms()
        encoded = scripts.EncodedJob(
            name=name,
            data=job_options.encode_json({} if data is None else data, "job data"),
            opts=job_options.encode_json(stored, "job options"),
            timestamp=timestamp,
            job_id=stored.get("jobId", ""),
            delay=stored.get("delay", 0),
            priority=stored.get("priority", 0),
            lifo=bool(stored.get("lifo")),
            dedup=stored.get("de"),
        )
        parent = stored.get("parent")
        if parent:
            link = {"id": parent["id"], "queueKey": parent["queue"]}
            link.update((flag, True) for flag in job_options.PARENT_FLAGS if stored.get(flag))
            encoded.parent_key = f"{parent['queue']}:{parent['id']}"
            encoded.parent = job_options.encode_json(link, "parent")
        return encoded, stored

    def _job_from(self, job_id: str, enc: scripts.EncodedJob, stored: dict[str, Any],
                  data: Any) -> Job:
        job = Job._added(self, job_id, {
            "name": enc.name, "timestamp": str(enc.timestamp), "delay": str(enc.delay),
            "priority": str(enc.priority), "data": enc.data, "opts": enc.opts},
            {} if data is None else data, job_options.to_python(stored), enc.timestamp,
            enc.delay, enc.priority)
        if enc.parent_key:
            job.raw.update(parentKey=enc.parent_key, parent=enc.parent)
            job.parent_key, job.parent = enc.parent_key, json.loads(enc.parent)
        if enc.dedup:
            # BullMQ's job.deduplicationId; the hash stores it as deid
            job.raw["deid"] = job.deduplication_id = enc.dedup["id"]
        return job

    def _add_encoded(self, batch: list[tuple[scripts.EncodedJob, dict[str, Any], Any]]
                     ) -> Op[list[Job]]:
        encoded = [e for e, _, _ in batch]
        reply = yield scripts.add_jobs(self.keys, encoded)
        ids = scripts.check_added(reply, encoded)
        return [self._job_from(job_id, enc, stored, data)
                for job_id, (enc, stored, data) in zip(ids, batch, strict=True)]

    def _add(self, name: str, data: Any = None, **options: Any) -> Op[Job]:
        """Add a job; ``options`` are job options in Python names (``delay=5000``,
        ``priority=1``, ``attempts=3``, ``backoff={...}``, ``job_id=...``).
        With ``repeat={...}`` it upserts a job scheduler instead (see
        ``schedulers.add_repeatable``) and returns its pending iteration."""
        if options.get("repeat") is not None:
            return (yield from schedulers.add_repeatable(self, name, data, options))
        options.pop("repeat", None)
        encoded, stored = self._encode(name, data, options)
        jobs = yield from self._add_encoded([(encoded, stored, data)])
        return jobs[0]

    add, aadd = twin(_add)

    def _add_bulk(self, jobs: Sequence[dict[str, Any]]) -> Op[list[Job]]:
        """Add many jobs in one round trip: ``[{"name": ..., "data": ..., "opts": {...}}]``.
        Every job is validated before anything is written."""
        batch = []
        for i, spec in enumerate(jobs):
            if not isinstance(spec, dict) or set(spec) - {"name", "data", "opts"} \
                    or "name" not in spec:
                raise InvalidOptionError(
                    f"add_bulk item {i} must be a dict with 'name' and maybe 'data' and 'opts'")
            data = spec.get("data")
            encoded, stored = self._encode(spec["name"], data,
                                           job_opts(spec.get("opts"), f"add_bulk item {i}"))
            batch.append((encoded, stored, data))
        if not batch:
            return []
        return (yield from self._add_encoded(batch))

    add_bulk, aadd_bulk = twin(_add_bulk)

    # -- reading -------------------------------------------------------------------

    def _get_job(self, job_id: str) -> Op[Job | None]:
        """The job with this id, or None."""
        raw = yield Call(("HGETALL", self.keys.job(str(job_id))))
        return Job(self, str(job_id), raw) if raw else None

    get_job, aget_job = twin(_get_job)

    def _get_jobs(self, states: str | Iterable[str] | None = None, start: int = 0,
                  end: int = -1, asc: bool = False, summary: bool = False) -> Op[list[Job]]:
        """Jobs in the given states (all by default), ``start``..``end`` of each
        state, newest first unless ``asc``. With ``summary`` the jobs are read
        without their data, return value and stack trace (cheap for lists)."""
        suffixes = [_suffix(s) for s in _states(states, DEFAULT_COUNT_STATES)]
        fields = SUMMARY_FIELDS if summary else ()
        reply = yield scripts.get_jobs(self.keys, suffixes, start, end, asc, fields)
        return [Job(self, job_id, raw) for job_id, raw in scripts.parse_jobs(reply)]

    get_jobs, aget_jobs = twin(_get_jobs)

    def _get_job_counts(self, *states: str) -> Op[dict[str, int]]:
        """Jobs per state: ``{"waiting": 3, "active": 1, ...}`` (BullMQ's states by default)."""
        names = list(states) or list(DEFAULT_COUNT_STATES)
        calls = []
        for state in names:
            suffix = _suffix(state)
            calls.append(Call((count_command(suffix), self.keys[suffix])))
        counts = yield Pipeline(calls)
        return dict(zip(names, (int(c) for c in counts), strict=True))

    get_job_counts, aget_job_counts = twin(_get_job_counts)

    def _count(self) -> Op[int]:
        """Jobs waiting to be processed: waiting, delayed, prioritized, waiting-children."""
        counts = yield from self._get_job_counts("waiting", "delayed", "prioritized",
                                                 "waiting-children")
        return sum(counts.values())

    count, acount = twin(_count)

    def _get_job_logs(self, job_id: str, start: int = 0, end: int = -1,
                      asc: bool = True) -> Op[dict[str, Any]]:
        """A job's log lines: ``{"logs": [...], "count": n}``."""
        key = self.keys.logs(str(job_id))
        if asc:
            lines, count = yield Pipeline([Call(("LRANGE", key, start, end)), Call(("LLEN", key))])
        else:
            lines, count = yield Pipeline([Call(("LRANGE", key, -(end + 1), -(start + 1))),
                                           Call(("LLEN", key))])
            lines.reverse()
        return {"logs": lines, "count": count}

    get_job_logs, aget_job_logs = twin(_get_job_logs)

    def _is_paused(self) -> Op[bool]:
        return bool((yield Call(("HEXISTS", self.keys["meta"], "paused"))))

    is_paused, ais_paused = twin(_is_paused)

    def _get_workers(self) -> Op[list[dict[str, Any]]]:
        """Live workers of this queue, from CLIENT LIST: Node BullMQ, Python
        bullmq and queuecore workers alike (each CLIENT LIST entry, with
        ``name`` the queue's, ``rawname`` the connection's, and what a
        runworker name tells: ``worker``, ``host``, ``pid``, ``concurrency``)."""
        found = find_workers((yield Call(("CLIENT LIST",))), self.prefix, [self.name], now_ms())
        workers = []
        for info in found[self.name]:
            worker: dict[str, Any] = {**info.client, "name": self.name,
                                      "rawname": info.client_name}
            if info.name:
                worker["worker"] = info.name
            worker.update({k: v for k, v in (("host", info.host), ("pid", info.pid),
                                              ("concurrency", info.concurrency),
                                              ("started_at", info.started_at)) if v is not None})
            workers.append(worker)
        return workers

    get_workers, aget_workers = twin(_get_workers)

    # -- the read side (reads.py): what pages and tools show ------------------------

    def _exists(self) -> Op[bool]:
        """Whether the queue has ever been written (its ``meta`` or ``id`` key:
        every BullMQ script that writes a queue writes its meta)."""
        return (yield from reads.exists(self.keys))

    exists, aexists = twin(_exists)

    def _get_summary(self, window_ms: int = reads.THROUGHPUT_WINDOW_MS
                     ) -> Op[reads.QueueSummary]:
        """Counts per state, pause, live workers, jobs finished in the last
        ``window_ms``, and the keys not of BullMQ's type, in one round trip."""
        return (yield from reads.summaries(self.prefix, [self.name], window_ms))[0]

    get_summary, aget_summary = twin(_get_summary)

    def _get_states(self, job_ids: Iterable[str]) -> Op[dict[str, str]]:
        """The state of each of many jobs in one round trip (see ``Job.get_state``;
        ``unknown`` also where a key is not of BullMQ's type)."""
        return (yield from reads.states(self.keys, job_ids))

    get_states, aget_states = twin(_get_states)

    def _get_jobs_by_id(self, job_ids: Sequence[str], fields: Sequence[str] | None = None
                        ) -> Op[list[Job | None]]:
        """The jobs with these ids in one round trip, None for each that is gone;
        with ``fields`` (BullMQ's field names) only those are read."""
        return (yield from reads.jobs_by_id(self, job_ids, fields))

    get_jobs_by_id, aget_jobs_by_id = twin(_get_jobs_by_id)

    def _get_job_tree(self, job_id: str, depth: int = 3, max_children: int = 50
                      ) -> Op[reads.JobTree]:
        """A job's place in its flow: its ancestors and its children (with their
        dependency status) down to ``depth`` levels, one round trip per level."""
        job_options.check_int("depth", depth, 1)
        job_options.check_int("max_children", max_children, 0)
        return (yield from reads.job_tree(self.keys, str(job_id), depth, max_children))

    get_job_tree, aget_job_tree = twin(_get_job_tree)

    def _get_scheduler_runs(self, start: int = 0, end: int = -1, asc: bool = True
                            ) -> Op[list[reads.SchedulerRun]]:
        """The job schedulers with their next and last iterations and those
        iterations' states."""
        return (yield from reads.scheduler_runs(self, start, end, asc))

    get_scheduler_runs, aget_scheduler_runs = twin(_get_scheduler_runs)

    def _get_failure_summaries(self, start: int = 0, end: int = -1, reason_bytes: int = 1000,
                               job_ids: Sequence[str] = ()) -> Op[list[dict[str, str]]]:
        """Failed jobs (newest first, or the given ids) with what identifies
        their cause, never their data or whole traces (see ``reads.failure_summaries``)."""
        for name, value in (("start", start), ("end", end)):
            job_options.check_int(name, value, -(2**63))
        job_options.check_int("reason_bytes", reason_bytes, 0)
        return (yield from reads.failure_summaries(self.keys, start, end, reason_bytes,
                                                   [str(i) for i in job_ids]))

    get_failure_summaries, aget_failure_summaries = twin(_get_failure_summaries)

    def _get_activity(self, now: int | None = None, minutes: int = 60, sample: int = 1000
                      ) -> Op[reads.Activity]:
        """Jobs completed and failed per minute over the last ``minutes`` (from
        the metrics keys, else the finished sets) and wait and run times of up
        to ``sample`` of the newest completed jobs."""
        job_options.check_int("minutes", minutes, 1)
        job_options.check_int("sample", sample, 0)
        return (yield from reads.activity(self.keys, now, minutes, sample))

    get_activity, aget_activity = twin(_get_activity)

    def search_jobs(self, kind: str, text: str = "", states: str | Iterable[str] | None = None,
                    **options: Any) -> Iterator[SearchProgress]:
        """Find jobs by ``kind`` id, name, data (substring or ``key=value``) or
        reason, in ``states`` (all by default), newest first, in bounded chunks:
        yields one ``SearchProgress`` per chunk (see ``queuecore/search.py``)."""
        from .search import search_jobs

        return search_jobs(self, kind, text, states, **options)

    def asearch_jobs(self, kind: str, text: str = "", states: str | Iterable[str] | None = None,
                     **options: Any) -> AsyncIterator[SearchProgress]:
        """``search_jobs`` as an async iterator."""
        from .search import asearch_jobs

        return asearch_jobs(self, kind, text, states, **options)

    # -- administering -------------------------------------------------------------

    def _set_paused(self, paused: bool) -> Op[None]:
        while (yield scripts.pause(self.keys, paused)) > 0:
            pass

    def _pause(self) -> Op[None]:
        """Stop workers from taking jobs (adds still go through)."""
        yield from self._set_paused(True)

    pause, apause = twin(_pause)

    def _resume(self) -> Op[None]:
        yield from self._set_paused(False)

    resume, aresume = twin(_resume)

    def _drain(self, delayed: bool = False) -> Op[int]:
        """Remove every job waiting to run (and delayed ones if asked)."""
        return (yield scripts.drain(self.keys, delayed))

    drain, adrain = twin(_drain)

    def _clean(self, grace_ms: Any, limit: int = 0, state: str = "completed") -> Op[list[str]]:
        """Remove jobs of ``state`` older than ``grace_ms``; at most ``limit``
        (0: no limit). Returns the removed ids."""
        grace = job_options.duration_ms("grace_ms", grace_ms)
        if state not in CLEANABLE:
            raise InvalidOptionError(f"cannot clean state {shown(state)}; use one of {CLEANABLE}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise InvalidOptionError(f"limit must be a count >= 0, not {shown(limit)}")
        cutoff = now_ms() - grace
        removed: list[str] = []
        cursor = 0
        while cursor >= 0:
            chunk = 1000 if not limit else min(1000, limit - len(removed))
            if chunk <= 0:
                break
            last = bool(limit) and chunk == limit - len(removed)
            reply = yield scripts.clean_jobs(self.keys, _suffix(state), cutoff, chunk, cursor,
                                             len(removed), last)
            cursor = int(reply[0])
            removed.extend(reply[1:])
        return removed

    clean, aclean = twin(_clean)

    def _obliterate(self, force: bool = False) -> Op[None]:
        """Delete the queue and everything in it. Refuses while jobs are
        active unless ``force``."""
        yield from self._set_paused(True)
        while True:
            code = yield scripts.obliterate(self.keys, force, 1000)
            if code == Obliterated.ACTIVE_JOBS:
                raise QueueCoreError(
                    f"cannot obliterate {self.name!r}: it has active jobs (pass force=True)")
            if code == Obliterated.DONE:
                # gone: the queues found under the prefix no longer list it
                discovery.forget_discovered(self.name)
                return

    obliterate, aobliterate = twin(_obliterate)

    def _retry_jobs(self, state: str = "failed", count: int = 1000,
                    timestamp: int | None = None) -> Op[int]:
        """Move failed (or completed) jobs back to wait; returns how many."""
        if state not in ("failed", "completed"):
            raise InvalidOptionError("retry_jobs state must be 'failed' or 'completed'")
        return (yield from self._move_to_wait(state, count, timestamp or now_ms()))

    retry_jobs, aretry_jobs = twin(_retry_jobs)

    def _promote_jobs(self, count: int = 1000) -> Op[int]:
        """Move every delayed job to wait now; returns how many."""
        return (yield from self._move_to_wait("delayed", count, "+inf"))

    promote_jobs, apromote_jobs = twin(_promote_jobs)

    def _move_to_wait(self, state: str, count: int, max_score: int | str) -> Op[int]:
        total = 0
        while True:
            moved = yield scripts.move_jobs_to_wait(self.keys, state, count, max_score)
            total += moved
            if moved < count:
                return total

    def _remove(self, job_id: str) -> Op[bool]:
        """Remove a job; False when a worker holds its lock."""
        code = yield scripts.remove_job(self.keys, str(job_id), now_ms())
        if code == ReplyCode.JOB_NOT_FOUND:
            return False
        scripts.raise_for_code(code, "remove", str(job_id))
        return code == 1

    remove, aremove = twin(_remove)

    def _cancel_job(self, job_id: str, reason: str = "") -> Op[None]:
        """Cancel an active job: the worker running it, in any process, hears it
        through Redis and cancels its processor (``asyncio.CancelledError`` in
        an ``async def`` one, ``job.is_cancelled`` / ``job.raise_if_cancelled()``
        for a ``def`` one, the child killed for a sandboxed one); the job then
        fails with reason "cancelled" (or retries, when the processor raises
        another error instead). Node BullMQ workers ignore the request."""
        if not isinstance(reason, str):
            raise InvalidOptionError(f"reason must be a string, not {shown(reason)}")
        code = yield scripts.cancel_job(self.keys, str(job_id), reason)
        scripts.raise_for_code(code, "cancel_job", str(job_id), "active")

    cancel_job, acancel_job = twin(_cancel_job)

    def _get_meta(self) -> Op[dict[str, str]]:
        return (yield Call(("HGETALL", self.keys["meta"])))

    get_meta, aget_meta = twin(_get_meta)

    # -- deduplication and metrics --------------------------------------------------

    def _get_deduplication_job_id(self, dedup_id: str) -> Op[str | None]:
        """The id of the job that owns a deduplication id now, or None."""
        return (yield Call(("GET", self.keys["de:" + _dedup_id(dedup_id)])))

    get_deduplication_job_id, aget_deduplication_job_id = twin(_get_deduplication_job_id)

    def _remove_deduplication_key(self, dedup_id: str) -> Op[bool]:
        """Free a deduplication id whatever job owns it (the next add with it is
        stored); True when there was a key to delete."""
        return bool((yield Call(("DEL", self.keys["de:" + _dedup_id(dedup_id)]))))

    remove_deduplication_key, aremove_deduplication_key = twin(_remove_deduplication_key)

    def _get_metrics(self, kind: str, start: int = 0, end: int = -1) -> Op[dict[str, Any]]:
        """Per-minute counts of finished jobs, collected by workers started with
        ``metrics={"max_data_points": n}`` (Node's too): ``{"meta": {"count",
        "prev_ts", "prev_count"}, "data": [newest minute first, ...], "count": n}``."""
        if kind not in ("completed", "failed"):
            raise InvalidOptionError(
                f"metrics kind must be 'completed' or 'failed', not {shown(kind)}")
        job_options.check_int("start", start, -(2**63))
        job_options.check_int("end", end, -(2**63))
        return scripts.parse_metrics((yield scripts.get_metrics(self.keys, kind, start, end)))

    get_metrics, aget_metrics = twin(_get_metrics)
    # -- job schedulers (schedulers.py) ------------------------------------------------

    def _upsert_job_scheduler(self, scheduler_id: str, repeat: dict[str, Any],
                              template: dict[str, Any] | None = None) -> Op[Job]:
        """Create or replace a job scheduler; returns its pending iteration job.
        ``repeat``: ``pattern`` (cron, 5 fields or 6 with seconds first) and
        ``tz``, or ``every`` (ms); optionally ``limit``, ``start_date``,
        ``end_date`` (aware datetimes or epoch ms), ``immediately``, ``offset``.
        ``template``: ``name`` (default: the id), ``data``, ``opts`` (job options)."""
        return (yield from schedulers.upsert(self, scheduler_id, repeat, template))

    upsert_job_scheduler, aupsert_job_scheduler = twin(_upsert_job_scheduler)

    def _get_job_scheduler(self, scheduler_id: str) -> Op[schedulers.JobScheduler | None]:
        return (yield from schedulers.get(self, scheduler_id))

    get_job_scheduler, aget_job_scheduler = twin(_get_job_scheduler)

    def _get_job_schedulers(self, start: int = 0, end: int = -1, asc: bool = False
                            ) -> Op[list[schedulers.JobScheduler]]:
        """Schedulers by next run, latest first unless ``asc`` (as BullMQ)."""
        return (yield from schedulers.get_all(self, start, end, asc))

    get_job_schedulers, aget_job_schedulers = twin(_get_job_schedulers)

    def _get_job_schedulers_count(self) -> Op[int]:
        return (yield from schedulers.count(self))

    get_job_schedulers_count, aget_job_schedulers_count = twin(_get_job_schedulers_count)

    def _remove_job_scheduler(self, scheduler_id: str) -> Op[bool]:
        """Remove a scheduler and its delayed iteration; False if it did not exist."""
        return (yield from schedulers.remove(self, scheduler_id))

    remove_job_scheduler, aremove_job_scheduler = twin(_remove_job_scheduler)

    def close(self) -> None:
        self.connection.close()

    async def aclose(self) -> None:
        await self.connection.aclose()

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Queue:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def job_opts(opts: Any, where: Any) -> dict[str, Any]:
    """The ``opts`` of an add_bulk item or a flow node: a dict of job options."""
    if opts is None:
        return {}
    if not isinstance(opts, dict):
        raise InvalidOptionError(f"opts of {where} must be a dict of job options, "
                                 f"not {shown(opts)}")
    return dict(opts)


def _dedup_id(dedup_id: Any) -> str:
    if not isinstance(dedup_id, str) or not dedup_id:
        raise InvalidOptionError(
            f"a deduplication id must be a non-empty string, not {shown(dedup_id)}")
    return dedup_id


def decode_event(fields: dict[str, str]) -> dict[str, Any]:
    """An events-stream entry with BullMQ's JSON fields parsed."""
    event = dict(fields)
    for name in ("returnvalue", "data"):
        if name in event:
            try:
                event[name] = json.loads(event[name])
            except ValueError:
                pass
    if "delay" in event:
        try:
            event["delay"] = int(event["delay"])
        except ValueError:
            pass
    return event
