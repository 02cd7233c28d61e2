"""Acting on the jobs selected in a list: retry, remove or promote each,
in one POST; every job that could not be acted on is counted with why."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from queuecore import Job, Queue
from queuecore.errors import QueueCoreError

from .access import OPERATE, gate
from .actions import ActionError, audit, cleaned
from .conf import dashboard_settings
from .contexts import queue_or_404
from .forms import RETRY_STATES, BulkForm
from .views import back_to_queue

# action -> the states a job must be in, and the past tense for the report
NEEDS = {"retry": RETRY_STATES, "promote": ("delayed",), "remove": None}
DONE = {"retry": "Retried", "promote": "Promoted", "remove": "Removed"}


@dataclass
class BulkResult:
    action: str
    done: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # why -> ids

    def report(self) -> str:
        total = len(self.done) + sum(len(ids) for ids in self.skipped.values())
        text = f"{DONE[self.action]} {len(self.done)} of {total} selected job(s)."
        if self.skipped:
            reasons = "; ".join(f"{why}: {', '.join(ids[:10])}"
                                + (f" … ({len(ids)})" if len(ids) > 10 else "")
                                for why, ids in self.skipped.items())
            text += f" Not {DONE[self.action].lower()}: {reasons}."
        return text




def act_on(queue: Queue, action: str, ids: list[str]) -> BulkResult:
    """Each job is checked and acted on by itself: one that changed state
    meanwhile is refused by its script and reported, the others go through."""
    if action not in NEEDS:
        raise ActionError(f"unknown action {action!r} for selected jobs")
    result = BulkResult(action)
    # each job's state, and its options only (retry needs lifo; never its data,
    # which may be megabytes): two round trips for the whole selection
    try:
        states = queue.get_states(ids)
        jobs = dict(zip(ids, queue.get_jobs_by_id(ids, fields=("opts",)), strict=True))
    except QueueCoreError as exc:
        raise ActionError(f"could not read the selected jobs: {exc}") from None
    for job_id in ids:
        job = jobs[job_id] or Job(queue, job_id, {})
        try:
            state = states[job_id]
            if state == "unknown":
                result.skipped["no longer exists"].append(job_id)
                continue
            needs = NEEDS[action]
            if needs is not None and state not in needs:
                result.skipped[f"is {state}, not {' or '.join(needs)}"].append(job_id)
                continue
            if action == "retry":
                job.retry(state)
            elif action == "promote":
                job.promote()
            elif not job.remove():
                result.skipped["is being processed (locked)"].append(job_id)
                continue
        except QueueCoreError as exc:
            result.skipped[str(exc)].append(job_id)
            continue
        result.done.append(job_id)
    return result


@require_POST
@gate(OPERATE)
def bulk_action(request: HttpRequest, name: str, action: str) -> HttpResponse:
    conf = dashboard_settings()
    queue = queue_or_404(conf, name)
    target = back_to_queue(request, name)
    try:
        result = act_on(queue, action, cleaned(BulkForm, request)["ids"])
    except ActionError as exc:
        messages.error(request, str(exc))
        return redirect(target)
    message = result.report()
    audit(request, f"bulk-{action}", name, result.done, message)
    (messages.success if result.done else messages.warning)(request, message)
    return redirect(target)
