"""What the dashboard's buttons do. Each action is a few lines over the
queuecore API, says what it did, and is written to the audit log."""

from __future__ import annotations

import json

from django.http import HttpRequest
from django.urls import reverse

from queuecore import Job, Queue
from queuecore.discovery import forget_discovered
from queuecore.errors import InvalidOptionError, JobNotInStateError, SerializationError

from .access import PARENT_REFUSED, parent_queue
from .models import AuditEntry
from .undecodable import escaped

CLEAN_STATES = ("completed", "failed", "delayed", "wait", "prioritized")


class ActionError(Exception):
    """The action was refused (bad input or not confirmed); nothing was done."""


def audit(request: HttpRequest, action: str, queue: str, job_ids: list[str] | None = None,
          detail: str = "") -> None:
    user = request.user
    # the database takes UTF-8 only: a foreign byte is kept as the text \xff
    AuditEntry.objects.create(user=user if user.is_authenticated else None,
                              username=user.get_username(), action=action,
                              queue=escaped(queue),
                              job_ids=[escaped(i) for i in (job_ids or [])[:1000]],
                              detail=escaped(detail)[:500])


def _int(request: HttpRequest, field: str, default: int | None = None, minimum: int = 0) -> int:
    raw = request.POST.get(field, "")
    if raw == "" and default is not None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ActionError(f"{field} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ActionError(f"{field} must be at least {minimum}")
    return value


def run_queue_action(request: HttpRequest, queue: Queue, action: str) -> str:
    name = queue.name
    if action == "pause":
        queue.pause()
        message = f"Paused {name}."
    elif action == "resume":
        queue.resume()
        message = f"Resumed {name}."
    elif action == "retry-all":
        state = request.POST.get("state", "failed")
        if state not in ("failed", "completed"):
            raise ActionError("retry-all works on failed or completed jobs")
        count = queue.retry_jobs(state=state, count=1000)
        message = f"Moved {count} {state} job(s) of {name} back to waiting."
    elif action == "promote-all":
        count = queue.promote_jobs()
        message = f"Promoted {count} delayed job(s) of {name}."
    elif action == "clean":
        state = request.POST.get("state", "completed")
        if state not in CLEAN_STATES:
            raise ActionError(f"cannot clean {state!r}; choose one of {', '.join(CLEAN_STATES)}")
        grace_s = _int(request, "grace", default=0)
        limit = _int(request, "limit", default=0)
        removed = queue.clean(grace_s * 1000, limit, state)
        audit(request, action, name, removed, f"{state} older than {grace_s} s, limit {limit}")
        return f"Removed {len(removed)} {state} job(s) of {name}."
    elif action == "drain":
        count = queue.drain(delayed=request.POST.get("delayed") == "1")
        message = f"Drained {name}: removed {count} waiting job(s)."
    elif action == "obliterate":
        if request.POST.get("confirm") != name:
            raise ActionError(f"type the queue's name ({name}) to obliterate it")
        queue.obliterate(force=request.POST.get("force") == "1")
        forget_discovered(name)
        message = f"Obliterated {name}."
    else:
        raise ActionError(f"unknown action {action!r}")
    audit(request, action, name, detail=message)
    return message


def run_job_action(request: HttpRequest, queue: Queue, job: Job,
                   action: str) -> tuple[str, str | None]:
    """Returns what was done, and where to go next (None: back to the job)."""
    name, target = queue.name, None
    if action == "retry":
        state = job.get_state()
        if state not in ("failed", "completed"):
            raise ActionError(f"only failed or completed jobs can be retried (this one is {state})")
        job.retry(state)
        message = f"Job {job.id} moved from {state} to waiting."
    elif action == "promote":
        job.promote()
        message = f"Job {job.id} promoted to run now."
    elif action == "remove":
        if not job.remove():
            raise ActionError(f"job {job.id} is being processed (locked): it was not removed")
        target = reverse("dashboard:queue", args=[name])
        message = f"Job {job.id} removed."
    elif action == "cancel":
        reason = request.POST.get("reason", "").strip()[:200]
        try:
            queue.cancel_job(job.id, reason)
        except JobNotInStateError:
            raise ActionError(f"job {job.id} is not running: only active jobs can be "
                              "cancelled") from None
        message = (f"Asked the worker running job {job.id} to cancel it (a Node BullMQ "
                   "worker ignores this; the job then ends on its own).")
    elif action == "duplicate":
        opts = {k: v for k, v in job.opts.items() if k not in ("job_id", "timestamp", "repeat",
                                                                "prevMillis", "repeatJobKey")}
        parent = opts.get("parent")
        if isinstance(parent, dict) and parent_queue(request.user, parent.get("queue")) is None:
            # the copy would be one more child of a job the user may not add to
            raise ActionError(f"job {job.id} was not duplicated: its {PARENT_REFUSED}")
        try:
            copy = queue.add(job.name, job.data, **opts)
        except InvalidOptionError:  # options written by another client: copy without them
            copy = queue.add(job.name, job.data)
        target = reverse("dashboard:job", args=[name, copy.id])
        message = f"Job {job.id} duplicated as {copy.id}."
    elif action == "edit-data":
        try:
            data = json.loads(request.POST.get("data", ""))
            job.update_data(data)
        except (ValueError, SerializationError) as exc:
            raise ActionError(f"data must be valid JSON: {exc}") from None
        message = f"Data of job {job.id} updated."
    elif action == "change-delay":
        delay = _int(request, "delay")
        job.change_delay(delay)
        message = f"Job {job.id} now runs in {delay} ms."
    elif action == "change-priority":
        priority = _int(request, "priority")
        try:
            job.change_priority(priority)
        except InvalidOptionError as exc:
            raise ActionError(str(exc)) from None
        message = f"Priority of job {job.id} set to {priority}."
    else:
        raise ActionError(f"unknown action {action!r}")
    audit(request, action, name, [job.id], message)
    return message, target
