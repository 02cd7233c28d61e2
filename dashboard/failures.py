"""Failed jobs grouped by cause: the failure reason with its numbers, ids and
quoted values normalised, plus the top frame of the latest stack trace.

Failed jobs are read newest first in pages of PAGE (summary fields and the
top frame only, never data or whole traces), at most SCAN_LIMIT of them: a
queue with 100,000 failures is grouped over its newest SCAN_LIMIT, and the
page says so. Group actions recompute the group when clicked and re-check
each job (still failed, same signature) right before acting on it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from queuecore import Job, Queue
from queuecore.errors import QueueCoreError

from .access import OPERATE, allowed_actions, gate, redactor
from .actions import ActionError, audit
from .conf import dashboard_settings
from .contexts import queue_or_404
from .forms import back_to
from .presenters import when
from .queues import REFUSED
from .rendering import render

PAGE = 500
SCAN_LIMIT = 10_000
REASON_BYTES = 1000  # of each reason read; the signature uses its first line
SAMPLES = 5

_QUOTED = re.compile(r"""'[^'\n]*'|"[^"\n]*"|`[^`\n]*`""")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_HEXID = re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b|\b0x[0-9a-f]+\b", re.I)
# a number, unless it ends a name (handler2, utf8, v2 stay as they are)
_NUMBER = re.compile(r"(?<![A-Za-z_])\d+(?:\.\d+)?")
_SPACE = re.compile(r"\s+")
_LINE = re.compile(r":\d+(?::\d+)?(?=\W|$)")  # :line or :line:column of a frame


def normalise(text: str) -> str:
    """'card 4242 declined for order "A-17"' -> 'card <n> declined for order <str>'."""
    text = _QUOTED.sub("<str>", text)
    text = _UUID.sub("<id>", text)
    text = _HEXID.sub("<id>", text)
    text = _NUMBER.sub("<n>", text)
    return _SPACE.sub(" ", text).strip()


def normalise_frame(frame: str) -> str:
    """Only the line (and column) go: a file or function name is the cause's own."""
    return _SPACE.sub(" ", _LINE.sub(":<n>", frame)).strip()


def signature(reason: str, top_frame: str) -> tuple[str, str]:
    """(normalised first line of the reason, normalised top frame)."""
    first = reason.strip().splitlines()[0] if reason.strip() else ""
    return normalise(first[:300]), normalise_frame(top_frame)


def group_key(sig: tuple[str, str]) -> str:
    return hashlib.sha1("\n".join(sig).encode()).hexdigest()[:16]


@dataclass
class FailureGroup:
    key: str
    reason: str  # normalised
    frame: str  # normalised
    sample_reason: str = ""  # the newest job's own reason
    sample_frame: str = ""
    count: int = 0
    first_ms: int = 0
    last_ms: int = 0
    job_ids: list[str] = field(default_factory=list)

    @property
    def samples(self) -> list[str]:
        return self.job_ids[:SAMPLES]

    @property
    def first_seen(self) -> datetime | None:
        return when(self.first_ms)

    @property
    def last_seen(self) -> datetime | None:
        return when(self.last_ms)


@dataclass
class Grouping:
    groups: list[FailureGroup]
    scanned: int  # failed jobs read and grouped
    total: int  # failed jobs in the queue
    capped: bool  # stopped at SCAN_LIMIT
    unreadable: bool = False  # the failed key is not of BullMQ's type


def _run(queue: Queue, start: int, end: int, ids: list[str] | None = None
         ) -> list[dict[str, str]]:
    return queue.get_failure_summaries(start, end, REASON_BYTES, ids or ())


def read_failed(queue: Queue, limit: int = SCAN_LIMIT) -> Iterator[dict[str, str]]:
    """The newest ``limit`` failed jobs' summaries, PAGE at a time."""
    start = 0
    while start < limit:
        end = min(start + PAGE, limit) - 1
        page = _run(queue, start, end)
        yield from page
        if end - start + 1 > len(page) and not _more_after(queue, end):
            return
        start = end + 1


def _more_after(queue: Queue, end: int) -> bool:
    # a short page: jobs without a hash were skipped; go on only if the set does
    return queue.get_job_counts("failed")["failed"] > end + 1


def _ms(value: str) -> int:
    try:
        return int(float(value))
    except ValueError:
        return 0


def group_failures(queue: Queue, limit: int = SCAN_LIMIT) -> Grouping:
    total = queue.get_job_counts("failed")["failed"]
    groups: dict[str, FailureGroup] = {}
    scanned = 0
    for job in read_failed(queue, limit):
        scanned += 1
        sig = signature(job["failed_reason"], job["top_frame"])
        key = group_key(sig)
        group = groups.get(key)
        if group is None:  # newest first: the first one seen is the newest
            group = groups[key] = FailureGroup(key, *sig, sample_reason=job["failed_reason"],
                                               sample_frame=job["top_frame"])
        seen = _ms(job["finished_on"]) or _ms(job["timestamp"])
        group.count += 1
        group.job_ids.append(job["id"])
        group.last_ms = max(group.last_ms, seen)
        group.first_ms = min(group.first_ms, seen) if group.first_ms else seen
    ordered = sorted(groups.values(), key=lambda g: (-g.count, -g.last_ms))
    return Grouping(ordered, scanned, total, scanned >= limit and total > limit)


@dataclass
class GroupResult:
    done: list[str] = field(default_factory=list)
    changed: int = 0  # no longer failed, or failed again for another cause
    gone: int = 0
    locked: int = 0
    errors: list[str] = field(default_factory=list)


def act_on_group(queue: Queue, key: str, action: str) -> tuple[FailureGroup, GroupResult]:
    """Retry or remove the failed jobs of group ``key`` as it is now."""
    if action not in ("retry-group", "clean-group"):
        raise ActionError(f"unknown action {action!r} for a failure group")
    group = next((g for g in group_failures(queue).groups if g.key == key), None)
    if group is None:
        raise ActionError("no failed job has this cause any more: nothing was done")
    result = GroupResult()
    for i in range(0, len(group.job_ids), PAGE):
        batch = group.job_ids[i:i + PAGE]
        current = {job["id"]: job for job in _run(queue, 0, -1, batch)}
        for job_id in batch:
            job = current.get(job_id)
            if job is None:
                result.gone += 1
                continue
            if job["in_failed"] != "1" or group_key(
                    signature(job["failed_reason"], job["top_frame"])) != key:
                result.changed += 1
                continue
            try:
                if action == "retry-group":
                    Job(queue, job_id, {"opts": job["opts"]} if job["opts"] else {}
                        ).retry("failed")  # its script refuses a job no longer failed
                elif not queue.remove(job_id):
                    result.locked += 1
                    continue
            except QueueCoreError as exc:
                result.changed += 1
                result.errors.append(str(exc))
                continue
            result.done.append(job_id)
    return group, result


def report(action: str, group: FailureGroup, result: GroupResult) -> str:
    verb = "Retried" if action == "retry-group" else "Removed"
    text = f"{verb} {len(result.done)} failed job(s) of the group “{group.reason}”."
    left = [f"{n} {why}" for n, why in ((result.changed, "no longer failed with this cause"),
                                       (result.gone, "gone"), (result.locked, "locked"))
            if n]
    if left:
        text += " Skipped: " + ", ".join(left) + "."
    return text


@require_GET
@gate()
def failure_groups(request: HttpRequest, name: str) -> HttpResponse:
    conf = dashboard_settings()
    queue = queue_or_404(conf, name)
    # the page loads it with htmx; opened at its own address, it is a page of its own
    template = "partials/failure_groups" if request.htmx else "failures"
    try:
        grouping = group_failures(queue)
    except REFUSED:  # the failed key is not a sorted set
        grouping = Grouping([], 0, 0, False, unreadable=True)
    redact = redactor(request.user)
    if redact is not None:  # "child <key> failed" names a child's queue
        for g in grouping.groups:
            g.reason, g.sample_reason = redact(g.reason), redact(g.sample_reason)
            g.frame, g.sample_frame = redact(g.frame), redact(g.sample_frame)
    return render(request, f"dashboard/{template}.html", {
        "grouping": grouping, "queue_name": name,
        "can": allowed_actions(request.user, name), "scan_limit": SCAN_LIMIT,
        "next": request.GET.get("next", "")})


@require_POST
@gate(OPERATE)
def failure_group_action(request: HttpRequest, name: str, key: str, action: str
                         ) -> HttpResponse:
    conf = dashboard_settings()
    queue = queue_or_404(conf, name)
    target = back_to(request, reverse("dashboard:queue", args=[name]) + "?state=failed")
    try:
        group, result = act_on_group(queue, key, action)
    except ActionError as exc:
        messages.error(request, str(exc))
        return redirect(target)
    redact = redactor(request.user)
    if redact is not None:  # the user's own report, and what the audit log keeps
        group.reason = redact(group.reason)
    message = report(action, group, result)
    audit(request, action, name, result.done, message)
    (messages.success if result.done else messages.warning)(request, message)
    return redirect(target)
