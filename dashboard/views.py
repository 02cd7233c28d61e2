"""Pages of the dashboard. Thin: they ask queuecore (through queues.py) and
render templates; each piece is a partial the live updates render too."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from queuecore import Job, Queue
from queuecore.discovery import remember
from queuecore.errors import InvalidQueueNameError, QueueCoreError

from . import actions, charts, flows, presenters
from . import schedulers as scheduler_views
from . import workers as workers_mod
from .access import (
    OPERATE,
    allowed_actions,
    gate,
    hide_unseen_flow,
    hide_unseen_rows,
    may_operate,
    queue_rules,
    redactor,
    visible,
)
from .conf import DashboardSettings, connection, dashboard_settings
from .models import AuditEntry
from .queues import REFUSED, STATES, get_queue, queue_exists, server_info, summarize, visible_queues
from .rendering import NO_QUEUE, Missing, render
from .rendering import not_found as render_not_found
from .undecodable import has_undecodable, json_text

QUEUE_STATES = [s for s in STATES if s != "latest"]
T = TypeVar("T")


def _queue_or_404(conf: DashboardSettings, name: str) -> Queue:
    """The queue, if it is listed (QUEUES) or, without a list, has keys."""
    if conf.queues is not None and name not in conf.queues:
        raise Http404(NO_QUEUE)
    try:
        queue = get_queue(conf, name)
    except InvalidQueueNameError:
        raise Http404(NO_QUEUE) from None
    if conf.queues is None and not queue_exists(queue):
        raise Http404(NO_QUEUE)
    return queue


def _job_or_404(queue: Queue, job_id: str) -> Job:
    """The job, or the dashboard's 404: none with that id, or its key is not a hash."""
    try:
        job = queue.get_job(job_id)
    except REFUSED:
        raise Missing(f"job {job_id!r} of queue {queue.name!r} is not a hash",
                      queue.name) from None
    if job is None:
        raise Missing(f"no job {job_id!r} in queue {queue.name!r}", queue.name)
    return job


def overview_context(conf: DashboardSettings, user: Any) -> dict[str, Any]:
    return {"queues": summarize(conf, visible(user, visible_queues(conf)))}


@require_GET
@gate()
def overview(request: HttpRequest) -> HttpResponse:
    conf = dashboard_settings()
    return render(request, "dashboard/overview.html", {
        **overview_context(conf, request.user), "server": server_info(conf), "conf": conf,
        "can_operate": may_operate(request.user)})


def queue_context(conf: DashboardSettings, queue: Queue, state: str, page: int,
                  asc: bool) -> dict[str, Any]:
    summary = summarize(conf, [queue.name])[0]
    size = conf.page_size
    start = (page - 1) * size
    unreadable: list[str] = []

    def jobs_of(s: str, first: int, last: int, ascending: bool = False) -> list[Job]:
        try:
            return queue.get_jobs(s, first, last, asc=ascending, summary=True)
        except REFUSED:  # its key is not of BullMQ's type: the other states still show
            unreadable.append(s)
            return []

    if state == "latest":
        # the newest of each state, each job with the state it was found in
        found = [(job, s) for s in QUEUE_STATES for job in jobs_of(s, 0, size - 1)]
        found.sort(key=lambda pair: pair[0].timestamp, reverse=True)
        rows = [presenters.summary(job, s) for job, s in found[:size]]
        total = size
    else:
        jobs = jobs_of(state, start, start + size - 1, asc)
        rows = [presenters.summary(job, state) for job in jobs]
        total = summary.counts.get(state, 0)
    pages = max(1, -(-total // size))
    return {"queue": summary, "state": state, "rows": rows, "page": page, "pages": pages,
            "asc": asc, "states": STATES, "has_next": page < pages, "has_prev": page > 1,
            "unreadable": unreadable}


@require_GET
@gate()
def queue_page(request: HttpRequest, name: str) -> HttpResponse:
    conf = dashboard_settings()
    queue = _queue_or_404(conf, name)
    if conf.queues is None:
        remember(connection(conf.redis_url), conf.prefix, name)
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
    context = queue_context(conf, queue, state, page, asc)
    hide_unseen_rows(request.user, context["rows"])
    return render(request, "dashboard/queue.html", {
        **context, **charts_context(conf, queue), "can_operate": may_operate(request.user, name),
        "conf": conf, "clean_states": actions.CLEAN_STATES,
        "can": allowed_actions(request.user, name)})


def charts_context(conf: DashboardSettings, queue: Queue) -> dict[str, Any]:
    try:
        drawn = charts.queue_charts(connection(conf.redis_url), queue.keys.base)
    except REFUSED:  # a metrics or finished key of the wrong type: no charts
        drawn = None
    return {"charts": drawn, "percentiles": charts.PERCENTILES}


def job_context(conf: DashboardSettings, queue: Queue, job_id: str) -> dict[str, Any]:
    job = _job_or_404(queue, job_id)
    try:
        state = job.get_state()
    except REFUSED:
        state = "unknown"
    try:
        logs = queue.get_job_logs(job_id, 0, 199)
    except REFUSED:  # its logs key is not a list
        logs = {"logs": ["(the logs key is not a list)"], "count": 0}
    conn = connection(conf.redis_url)
    kids, more = flows.children(conn, conf.prefix, queue.keys.job(job_id))
    return {"job": presenters.detail(job, state, conf), "logs": logs, "queue_name": queue.name,
            "children": kids, "more_children": more,
            "ancestors": flows.ancestors(conn, conf.prefix, job.parent_key)}


@require_GET
@gate()
def job_page(request: HttpRequest, name: str, job_id: str) -> HttpResponse:
    conf = dashboard_settings()
    queue = _queue_or_404(conf, name)
    context = hide_unseen_flow(request.user, job_context(conf, queue, job_id))
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
    job = _job_or_404(_queue_or_404(conf, name), job_id)
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
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return back
    return reverse("dashboard:queue", args=[name])


@require_POST
@gate(OPERATE)
def queue_action(request: HttpRequest, name: str, action: str) -> HttpResponse:
    conf = dashboard_settings()
    queue = _queue_or_404(conf, name)
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
    queue = _queue_or_404(conf, name)
    job = _job_or_404(queue, job_id)
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
        for entry in entries:  # written for someone who saw more (a group's cause)
            entry.detail = redact(entry.detail) if redact is not None else entry.detail
    return render(request, "dashboard/activity.html", {"entries": entries})


@require_GET
@gate()
def workers_page(request: HttpRequest) -> HttpResponse:
    """Every live worker of each visible queue, and the queues with jobs
    waiting that nobody runs."""
    conf = dashboard_settings()
    names = visible(request.user, visible_queues(conf))
    summaries = summarize(conf, names)
    found = workers_mod.live_workers(conf, names)
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
    queue = _queue_or_404(conf, name)
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
