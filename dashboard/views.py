"""Pages of the dashboard. Thin: they ask queuecore (through queues.py) and
render templates; each piece is a partial the live updates render too."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from queuecore.errors import QueueCoreError

from . import actions
from . import schedulers as scheduler_views
from . import workers as workers_mod
from .access import (
    OPERATE,
    allowed_actions,
    gate,
    may_operate,
    queue_rules,
    redactor,
    visible,
)
from .conf import dashboard_settings
from .contexts import (
    charts_context,
    job_context,
    job_or_404,
    overview_context,
    queue_context,
    queue_or_404,
)
from .forms import CLEAN_STATES, back_to
from .models import AuditEntry
from .queues import (
    REFUSED,
    STATES,
    get_queue,
    remember_queue,
    server_info,
    visible_queues,
)
from .rendering import not_found as render_not_found
from .rendering import render
from .undecodable import has_undecodable, json_text

T = TypeVar("T")


@require_GET
@gate()
def overview(request: HttpRequest) -> HttpResponse:
    conf = dashboard_settings()
    return render(request, "dashboard/overview.html", {
        **overview_context(conf, request.user), "server": server_info(conf), "conf": conf,
        "can_operate": may_operate(request.user)})


@require_GET
@gate()
def queue_page(request: HttpRequest, name: str) -> HttpResponse:
    conf = dashboard_settings()
    queue = queue_or_404(conf, name)
    if conf.queues is None:
        remember_queue(conf, name)
    state = request.GET.get("state", "latest")
    if state not in STATES:
        raise Http404(f"unknown state {state!r}")
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    asc = request.GET.get("order") == "oldest"
    job_id = request.GET.get("job", "").strip()
    if job_id:
        return redirect("dashboard:job", name=name, job_id=job_id)
    context = queue_context(conf, request.user, queue, state, page, asc)
    return render(request, "dashboard/queue.html", {
        **context, **charts_context(queue), "can_operate": may_operate(request.user, name),
        "conf": conf, "clean_states": CLEAN_STATES,
        "can": allowed_actions(request.user, name)})


@require_GET
@gate()
def job_page(request: HttpRequest, name: str, job_id: str) -> HttpResponse:
    conf = dashboard_settings()
    queue = queue_or_404(conf, name)
    context = job_context(conf, request.user, queue, job_id)
    can = allowed_actions(request.user, name)
    return render(request, "dashboard/job.html", {
        **context, "can_operate": can["any"], "conf": conf, "can": can,
        # never offer to save masked or cut data back over the real data
        "can_edit_data": can["edit"] and conf.formatter is None
        and not context["job"]["data_cut"]
        # nor data that the form cannot give back byte for byte
        and not has_undecodable(context["job"]["data_text"])})


@require_GET
@gate()
def job_raw(request: HttpRequest, name: str, job_id: str) -> HttpResponse:
    """All of a job's data (or return value) as JSON, however large."""
    conf = dashboard_settings()
    job = job_or_404(queue_or_404(conf, name), job_id)
    part = request.GET.get("part", "data")
    if part not in ("data", "returnvalue"):
        return HttpResponseBadRequest("part must be data or returnvalue")
    value = job.data if part == "data" else job.returnvalue
    if part == "data" and conf.formatter is not None:
        value = conf.formatter({"name": job.name, "data": value, "queue": name})["data"]
    response = HttpResponse(json_text(value), content_type="application/json")
    response["Content-Disposition"] = f'inline; filename="{file_name(name, job_id, part)}.json"'
    return response


def file_name(*parts: str) -> str:
    """A download's name from names and ids, whatever they hold (quotes, ``/``,
    newlines, foreign bytes would break the header)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts))[:120] or "job"


def _attempt(request: HttpRequest, action: str, run: Callable[[], T]) -> T | None:
    """Run an action; a refusal or a queuecore error becomes the page's message."""
    try:
        return run()
    except actions.ActionError as exc:
        messages.error(request, str(exc))
    except QueueCoreError as exc:
        messages.error(request, f"{action} failed: {exc}")
    return None


def back_to_queue(request: HttpRequest, name: str) -> str:
    """Where a queue action returns: the tab it was taken from (a safe ``next``),
    else the queue's page."""
    return back_to(request, reverse("dashboard:queue", args=[name]))


@require_POST
@gate(OPERATE)
def queue_action(request: HttpRequest, name: str, action: str) -> HttpResponse:
    conf = dashboard_settings()
    queue = queue_or_404(conf, name)
    target = back_to_queue(request, name)
    message = _attempt(request, action, lambda: actions.run_queue_action(request, queue, action))
    if message is not None:
        messages.success(request, message)
        if action == "obliterate":
            target = reverse("dashboard:overview")
    return redirect(target)


@require_POST
@gate(OPERATE)
def job_action(request: HttpRequest, name: str, job_id: str, action: str) -> HttpResponse:
    conf = dashboard_settings()
    queue = queue_or_404(conf, name)
    job = job_or_404(queue, job_id)
    target = reverse("dashboard:job", args=[name, job_id])
    done = _attempt(request, action, lambda: actions.run_job_action(request, queue, job, action))
    if done is not None:
        message, target_override = done
        messages.success(request, message)
        target = target_override or target
    return redirect(target)


@require_GET
@gate()
def activity(request: HttpRequest) -> HttpResponse:
    entries = AuditEntry.objects.all()[:200]
    if queue_rules(request.user) is not None:  # limited to some queues: only theirs
        recent = list(AuditEntry.objects.all()[:2000])
        seen = set(visible(request.user, {e.queue for e in recent}))
        entries = [e for e in recent if e.queue in seen][:200]  # type: ignore[assignment]
        redact = redactor(request.user)
        if redact is not None:
            for entry in entries:  # written for someone who saw more (a group's cause)
                entry.detail = redact(entry.detail)
    return render(request, "dashboard/activity.html", {"entries": entries})


@require_GET
@gate()
def workers_page(request: HttpRequest) -> HttpResponse:
    """Every live worker of each visible queue, and the queues with jobs
    waiting that nobody runs."""
    conf = dashboard_settings()
    names = visible(request.user, visible_queues(conf))
    summaries, found = workers_mod.summaries_and_workers(conf, names)
    groups = [(s, (found or {}).get(s.name, [])) for s in summaries]
    return render(request, "dashboard/workers.html", {
        "groups": groups, "listing_refused": found is None, "conf": conf,
        "unattended": [s for s in summaries if s.waiting_without_workers]})


@require_GET
@gate()
def schedulers_page(request: HttpRequest) -> HttpResponse:
    """Every job scheduler of the visible queues."""
    conf = dashboard_settings()
    groups = []
    for name in visible(request.user, visible_queues(conf)):
        try:
            rows = scheduler_views.scheduler_rows(get_queue(conf, name))
        except REFUSED:  # its repeat key is not a sorted set: the others still show
            continue
        if rows:
            groups.append((name, rows, allowed_actions(request.user, name)))
    return render(request, "dashboard/schedulers.html", {"groups": groups, "conf": conf})


@require_POST
@gate(OPERATE)
def scheduler_action(request: HttpRequest, name: str, scheduler_id: str,
                     action: str) -> HttpResponse:
    conf = dashboard_settings()
    queue = queue_or_404(conf, name)
    runs = {"edit": scheduler_views.edit, "remove": scheduler_views.remove}
    if action not in runs:
        raise Http404(f"no scheduler action {action!r}")
    message = _attempt(request, action, lambda: runs[action](request, queue, scheduler_id))
    if message is not None:
        messages.success(request, message)
    return redirect(reverse("dashboard:schedulers"))


@require_GET
@gate()
def not_found(request: HttpRequest, rest: str) -> HttpResponse:
    """Any other address under the dashboard."""
    return render_not_found(request, f"nothing here at {request.path}")
