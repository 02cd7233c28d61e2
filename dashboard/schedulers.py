"""The schedulers page: every job scheduler of the visible queues (Node's and
queuecore's alike), with its next run (the pending iteration job), its last
run (the previous iteration, while retention keeps it) and its iteration
count; and the edit and remove actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest

from queuecore import Queue
from queuecore.cron import previous_run
from queuecore.driver import Call
from queuecore.errors import InvalidOptionError
from queuecore.schedulers import JobScheduler

from .actions import ActionError, audit
from .presenters import when

MAX_PER_QUEUE = 500  # schedulers shown per queue
# where an iteration job may be, probed in this order (None: gone, or never added)
PROBES = (("ZSCORE", "delayed"), ("LPOS", "wait"), ("ZSCORE", "prioritized"),
          ("LPOS", "active"), ("ZSCORE", "completed"), ("ZSCORE", "failed"))


@dataclass
class SchedulerRow:
    queue: str
    scheduler: JobScheduler
    next_job_id: str | None
    next_state: str | None  # the pending iteration's state (None: gone)
    last_run_at: int | None
    last_job_id: str | None
    last_state: str | None  # completed, failed, or None when retention removed it

    @property
    def next_run(self) -> datetime | None:
        return when(self.scheduler.next)

    @property
    def last_run(self) -> datetime | None:
        return when(self.last_run_at)

    @property
    def end(self) -> datetime | None:
        return when(self.scheduler.end_date)


def _previous(s: JobScheduler) -> int | None:
    if s.next is None or not s.iteration_count or s.iteration_count < 2:
        return None
    if s.every:
        return s.next - s.every
    if s.pattern:
        try:
            return previous_run(s.pattern, s.tz, s.next)
        except InvalidOptionError:
            return None  # a pattern only Node reads: no last run shown
    return None


def scheduler_rows(queue: Queue) -> list[SchedulerRow]:
    schedulers = queue.get_job_schedulers(0, MAX_PER_QUEUE - 1, asc=True)
    rows = []
    calls: list[Call] = []
    keys = queue.keys
    for s in schedulers:
        next_id = f"repeat:{s.id}:{s.next}" if s.next is not None else None
        prev = _previous(s)
        last_id = f"repeat:{s.id}:{prev}" if prev is not None else None
        rows.append(SchedulerRow(queue.name, s, next_id, None, prev, last_id, None))
        for job_id in (next_id, last_id):
            calls += [Call((command, keys[state], job_id or "")) for command, state in PROBES]
    replies = queue.connection.execute_many(calls)
    n = len(PROBES)
    for i, row in enumerate(rows):
        for j, attr in enumerate(("next_state", "last_state")):
            found = replies[(2 * i + j) * n:(2 * i + j + 1) * n]
            state = next((name for (_, name), hit in zip(PROBES, found, strict=True)
                          if hit is not None), None)
            setattr(row, attr, "waiting" if state == "wait" else state)
    return rows


def _int_field(request: HttpRequest, name: str) -> int | None:
    raw = request.POST.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ActionError(f"{name} must be a whole number, not {raw!r}") from None


def edit(request: HttpRequest, queue: Queue, scheduler_id: str) -> str:
    """Upsert the scheduler with the form's repeat options, keeping its template."""
    current = queue.get_job_scheduler(scheduler_id)
    if current is None:
        raise ActionError(f"scheduler {scheduler_id!r} no longer exists")
    repeat: dict[str, Any] = {}
    pattern = request.POST.get("pattern", "").strip()
    every = _int_field(request, "every")
    if pattern:
        repeat["pattern"] = pattern
    if every is not None:
        repeat["every"] = every
    if request.POST.get("tz", "").strip():
        repeat["tz"] = request.POST["tz"].strip()
    limit = _int_field(request, "limit")
    if limit is not None:
        repeat["limit"] = limit
    end = request.POST.get("end_date", "").strip()
    if end:
        try:
            repeat["end_date"] = datetime.fromisoformat(end).replace(tzinfo=UTC)
        except ValueError:
            raise ActionError(f"end date must be a date and time, not {end!r}") from None
    template = {"name": current.name, **(current.template or {})}
    try:
        queue.upsert_job_scheduler(scheduler_id, repeat, template)
    except InvalidOptionError as exc:
        raise ActionError(str(exc)) from None
    how = f"pattern {pattern!r}" if pattern else f"every {every} ms"
    message = f"Scheduler {scheduler_id} of {queue.name} now runs {how}."
    audit(request, "edit-scheduler", queue.name, [scheduler_id], message)
    return message


def remove(request: HttpRequest, queue: Queue, scheduler_id: str) -> str:
    if not queue.remove_job_scheduler(scheduler_id):
        raise ActionError(f"scheduler {scheduler_id!r} no longer exists")
    message = f"Scheduler {scheduler_id} of {queue.name} removed (with its pending run)."
    audit(request, "remove-scheduler", queue.name, [scheduler_id], message)
    return message
