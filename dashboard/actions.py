"""What the dashboard's buttons do. Each action is a few lines over the
queuecore API, says what it did, and is written to the audit log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest
from django.urls import reverse

from queuecore import Job, Queue
from queuecore.errors import InvalidOptionError, JobNotInStateError, SerializationError

from .access import PARENT_REFUSED, ParentRefused, checked_parent
from .forms import (
    RETRY_STATES,
    CancelForm,
    ChangeDelayForm,
    ChangePriorityForm,
    CleanForm,
    DrainForm,
    EditDataForm,
    ObliterateForm,
    RetryAllForm,
    first_error,
)
from .models import AuditEntry
from .undecodable import escaped


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


def cleaned(form_class: type[forms.Form], request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
    """The action's input, validated by its form; ActionError says what is wrong."""
    form = form_class(request.POST, **kwargs)
    error = first_error(form)
    if error is not None:
        raise ActionError(error)
    return form.cleaned_data


def run_queue_action(request: HttpRequest, queue: Queue, action: str) -> str:
    name = queue.name
    if action == "pause":
        queue.pause()
        message = f"Paused {name}."
    elif action == "resume":
        queue.resume()
        message = f"Resumed {name}."
    elif action == "retry-all":
        state = cleaned(RetryAllForm, request)["state"]
        count = queue.retry_jobs(state=state, count=1000)
        message = f"Moved {count} {state} job(s) of {name} back to waiting."
    elif action == "promote-all":
        count = queue.promote_jobs()
        message = f"Promoted {count} delayed job(s) of {name}."
    elif action == "clean":
        form = cleaned(CleanForm, request)
        state, grace_s, limit = form["state"], form["grace"], form["limit"]
        removed = queue.clean(grace_s * 1000, limit, state)
        audit(request, action, name, removed, f"{state} older than {grace_s} s, limit {limit}")
        return f"Removed {len(removed)} {state} job(s) of {name}."
    elif action == "drain":
        count = queue.drain(delayed=cleaned(DrainForm, request)["delayed"])
        message = f"Drained {name}: removed {count} waiting job(s)."
    elif action == "obliterate":
        force = cleaned(ObliterateForm, request, queue_name=name)["force"]
        queue.obliterate(force=force)
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
        if state not in RETRY_STATES:
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
        reason = cleaned(CancelForm, request)["reason"]
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
        try:
            checked_parent(request.user, opts.get("parent"))
        except ParentRefused:
            # the copy would be one more child of a job the user may not add to
            raise ActionError(f"job {job.id} was not duplicated: its {PARENT_REFUSED}") from None
        try:
            copy = queue.add(job.name, job.data, **opts)
        except InvalidOptionError:  # options written by another client: copy without them
            copy = queue.add(job.name, job.data)
        target = reverse("dashboard:job", args=[name, copy.id])
        message = f"Job {job.id} duplicated as {copy.id}."
    elif action == "edit-data":
        data = cleaned(EditDataForm, request)["data"]
        try:
            job.update_data(data)
        except (ValueError, SerializationError) as exc:
            raise ActionError(f"data must be valid JSON: {exc}") from None
        message = f"Data of job {job.id} updated."
    elif action == "change-delay":
        delay = cleaned(ChangeDelayForm, request)["delay"]
        job.change_delay(delay)
        message = f"Job {job.id} now runs in {delay} ms."
    elif action == "change-priority":
        priority = cleaned(ChangePriorityForm, request)["priority"]
        try:
            job.change_priority(priority)
        except InvalidOptionError as exc:
            raise ActionError(str(exc)) from None
        message = f"Priority of job {job.id} set to {priority}."
    else:
        raise ActionError(f"unknown action {action!r}")
    audit(request, action, name, [job.id], message)
    return message, target
