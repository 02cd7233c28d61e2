"""Adding a job from the dashboard: name, JSON data and options, checked by
queuecore's own option validation; on any error the form comes back with
what was typed and the specific reason, and nothing is added."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from queuecore import Queue
from queuecore.errors import QueueCoreError

from .access import PARENT_REFUSED, gate, parent_queue
from .actions import ActionError, audit
from .conf import dashboard_settings
from .contexts import queue_or_404
from .queues import get_queue
from .rendering import render

SIMPLE_FIELDS = ("delay", "priority", "attempts")  # whole numbers; job_id is text
FORM_FIELDS = ("name", "data", "options", *SIMPLE_FIELDS, "job_id")


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        detail = f"{exc.msg} at line {exc.lineno}, column {exc.colno}" \
            if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ActionError(f"{what} is not valid JSON: {detail}") from None


def parse(form: dict[str, str]) -> tuple[str, Any, dict[str, Any]]:
    """(name, data, options in Python names) from the form; ActionError names
    the first thing wrong."""
    name = form.get("name", "").strip()
    if not name:
        raise ActionError("the job needs a name")
    data_text = form.get("data", "").strip()
    data = _json(data_text, "data") if data_text else {}
    options_text = form.get("options", "").strip()
    options = _json(options_text, "options") if options_text else {}
    if not isinstance(options, dict):
        raise ActionError('options must be a JSON object such as {"attempts": 3}, '
                          f"not {type(options).__name__ if options is not None else 'null'}")
    for field in SIMPLE_FIELDS:
        raw = form.get(field, "").strip()
        if not raw:
            continue
        try:
            value: Any = int(raw)
        except ValueError:
            raise ActionError(f"{field} must be a whole number, not {raw!r}") from None
        if field in options:
            raise ActionError(f"{field} is given both as a field and in the options JSON")
        options[field] = value
    job_id = form.get("job_id", "").strip()
    if job_id:
        if "job_id" in options:
            raise ActionError("job_id is given both as a field and in the options JSON")
        options["job_id"] = job_id
    return name, data, options


def check_parent(user: Any, parent: Any) -> None:
    """A ``parent`` must be a job the user may add children to, refused
    before queuecore is asked, so a hidden queue answers as a missing one."""
    if not isinstance(parent, dict):
        return  # not a job's name at all: queuecore says what a parent looks like
    target = parent_queue(user, parent.get("queue"))
    if target is None:
        raise ActionError(PARENT_REFUSED)
    parent_id = parent.get("id")
    if isinstance(parent_id, str) and get_queue(dashboard_settings(), target).get_job(
            parent_id) is None:
        raise ActionError(f"parent: no job {parent_id!r} in queue {target!r}")


def add(queue: Queue, name: str, data: Any, options: dict[str, Any], user: Any) -> str:
    """Adds the job; returns its id. queuecore validates before writing anything."""
    if "parent" in options:
        check_parent(user, options["parent"])
    job_id = options.get("job_id")
    if isinstance(job_id, str) and queue.get_job(job_id) is not None:
        # BullMQ would quietly keep the existing job: say so instead
        raise ActionError(f"a job with id {job_id!r} already exists in {queue.name}")
    try:
        return queue.add(name, data, **options).id
    except QueueCoreError as exc:  # bad options, data, or a parent gone meanwhile
        raise ActionError(str(exc)) from None


@require_http_methods(["GET", "POST"])
@gate("add")
def add_job(request: HttpRequest, name: str) -> HttpResponse:
    conf = dashboard_settings()
    queue = queue_or_404(conf, name)
    form = {field: request.POST.get(field, "") for field in FORM_FIELDS}
    error = ""
    if request.method == "POST":
        try:
            job_name, data, options = parse(form)
            job_id = add(queue, job_name, data, options, request.user)
        except ActionError as exc:
            error = str(exc)
        else:
            message = f"Added job {job_id} ({job_name}) to {name}."
            audit(request, "add", name, [job_id], message)
            messages.success(request, message)
            return redirect("dashboard:job", name=name, job_id=job_id)
    return render(request, "dashboard/add_job.html", {
        "queue_name": name, "form": form, "error": error, "conf": conf},
        status=400 if error else 200)
