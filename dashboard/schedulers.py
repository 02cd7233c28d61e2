"""The schedulers page: every job scheduler of the visible queues (Node's and
queuecore's alike), with its next run (the pending iteration job), its last
run (the previous iteration, while retention keeps it) and its iteration
count; and the edit and remove actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import HttpRequest

from queuecore import Queue, SchedulerRun
from queuecore.errors import InvalidOptionError

from .actions import ActionError, audit, cleaned
from .forms import SchedulerEditForm
from .presenters import when

MAX_PER_QUEUE = 500  # schedulers shown per queue


@dataclass
class SchedulerRow:
    """A scheduler as its row shows it: queuecore's ``SchedulerRun`` with times
    as datetimes."""

    queue: str
    run: SchedulerRun

    def __getattr__(self, name: str) -> Any:  # scheduler, next_job_id, next_state, ...
        if name.startswith("_") or name == "run":  # copy and pickle probe before run is set
            raise AttributeError(name)
        return getattr(self.run, name)

    @property
    def next_run(self) -> datetime | None:
        return when(self.run.scheduler.next)

    @property
    def last_run(self) -> datetime | None:
        return when(self.run.last_run_at)

    @property
    def end(self) -> datetime | None:
        return when(self.run.scheduler.end_date)


def scheduler_rows(queue: Queue) -> list[SchedulerRow]:
    return [SchedulerRow(queue.name, run)
            for run in queue.get_scheduler_runs(0, MAX_PER_QUEUE - 1, asc=True)]


def edit(request: HttpRequest, queue: Queue, scheduler_id: str) -> str:
    """Upsert the scheduler with the form's repeat options, keeping its template."""
    current = queue.get_job_scheduler(scheduler_id)
    if current is None:
        raise ActionError(f"scheduler {scheduler_id!r} no longer exists")
    repeat = cleaned(SchedulerEditForm, request)
    pattern, every = repeat.get("pattern"), repeat.get("every")
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
