"""What each page shows, built once for the HTTP views and the live updates
alike: the lookups that give the dashboard's 404 and the context builders
of the pages' partials, redacted for the user (access.hide_unseen_*)."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from queuecore import Job, Queue
from queuecore.errors import InvalidQueueNameError

from . import charts, presenters
from .access import hide_unseen_flow, hide_unseen_rows, visible
from .conf import DashboardSettings
from .queues import REFUSED, STATES, get_queue, summarize, visible_queues
from .rendering import NO_QUEUE, Missing

QUEUE_STATES = [s for s in STATES if s != "latest"]
FLOW_DEPTH = 3  # levels of ancestors and children shown on a job's page
FLOW_CHILDREN = 50  # children shown per job; the rest are counted


def queue_or_404(conf: DashboardSettings, name: str) -> Queue:
    """The queue, if it is listed (QUEUES) or, without a list, has keys."""
    if conf.queues is not None and name not in conf.queues:
        raise Http404(NO_QUEUE)
    try:
        queue = get_queue(conf, name)
    except InvalidQueueNameError:
        raise Http404(NO_QUEUE) from None
    if conf.queues is None and not queue.exists():
        raise Http404(NO_QUEUE)
    return queue


def job_or_404(queue: Queue, job_id: str) -> Job:
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


def queue_context(conf: DashboardSettings, user: Any, queue: Queue, state: str, page: int,
                  asc: bool) -> dict[str, Any]:
    summary = queue.get_summary()
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
    hide_unseen_rows(user, rows)  # reasons naming queues the user may not see
    pages = max(1, -(-total // size))
    return {"queue": summary, "state": state, "rows": rows, "page": page, "pages": pages,
            "asc": asc, "states": STATES, "has_next": page < pages, "has_prev": page > 1,
            "unreadable": unreadable}


def charts_context(queue: Queue) -> dict[str, Any]:
    try:
        drawn = charts.queue_charts(queue)
    except REFUSED:  # a metrics or finished key of the wrong type: no charts
        drawn = None
    return {"charts": drawn, "percentiles": charts.PERCENTILES}


def job_context(conf: DashboardSettings, user: Any, queue: Queue, job_id: str) -> dict[str, Any]:
    job = job_or_404(queue, job_id)
    try:
        state = job.get_state()
    except REFUSED:
        state = "unknown"
    try:
        logs = queue.get_job_logs(job_id, 0, 199)
    except REFUSED:  # its logs key is not a list
        logs = {"logs": ["(the logs key is not a list)"], "count": 0}
    tree = queue.get_job_tree(job_id, FLOW_DEPTH, FLOW_CHILDREN)
    return hide_unseen_flow(user, {
        "job": presenters.detail(job, state, conf), "logs": logs, "queue_name": queue.name,
        "children": tree.children, "more_children": tree.more, "ancestors": tree.ancestors})


