"""Adding a job from the dashboard: name, JSON data and options, checked by
queuecore's own option validation; on any error the form comes back with
what was typed and the specific reason, and nothing is added."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from queuecore import Queue
from queuecore.errors import QueueCoreError

from .access import gate
from .actions import ActionError, audit
from .conf import dashboard_settings
from .contexts import queue_or_404
from .forms import AddJobForm, first_error
from .rendering import render


def add(queue: Queue, name: str, data: Any, options: dict[str, Any]) -> str:
    """Adds the job (its form checked the input and any parent); returns its
    id. queuecore validates the options before writing anything."""
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
    form = AddJobForm(request.POST if request.method == "POST" else None, user=request.user)
    error = (first_error(form) or "") if form.is_bound else ""
    if form.is_bound and not error:
        job_name = form.cleaned_data["name"]
        try:
            job_id = add(queue, job_name, form.cleaned_data["data"], form.cleaned_data["options"])
        except ActionError as exc:
            error = str(exc)
        else:
            message = f"Added job {job_id} ({job_name}) to {name}."
            audit(request, "add", name, [job_id], message)
            messages.success(request, message)
            return redirect("dashboard:job", name=name, job_id=job_id)
    return render(request, "dashboard/add_job.html", {
        "queue_name": name, "form": form.typed(), "error": error, "conf": conf},
        status=400 if error else 200)
