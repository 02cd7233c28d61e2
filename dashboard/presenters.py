"""How a job is shown: one presenter for the lists, the job page and the
live updates, so every place shows a job the same way."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from queuecore import Job

from .conf import DashboardSettings

MAX_INLINE_BYTES = 256 * 1024  # larger data is cut on the page, with a link to all of it


def when(ms: int | None) -> datetime | None:
    """A time in epoch ms; None when unset, or beyond what a date can hold."""
    if not ms:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def duration(start: int | None, end: int | None) -> str:
    if not start or not end or end < start:
        return ""
    ms = end - start
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms // 60_000} min {ms % 60_000 // 1000} s"


def progress_percent(progress: Any) -> int | None:
    """A bar for numeric progress (or a dict with a number under 'pct'/'percent')."""
    if isinstance(progress, dict):
        progress = progress.get("pct", progress.get("percent"))
    if isinstance(progress, bool) or not isinstance(progress, int | float) \
            or not math.isfinite(progress):
        return None
    return max(0, min(100, int(progress)))


def pretty_json(value: Any, limit: int = MAX_INLINE_BYTES) -> tuple[str, bool]:
    """Indented JSON, cut at ``limit`` characters; returns (text, was_cut)."""
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False,
                                                           sort_keys=False, default=str)
    if len(text) > limit:
        return text[:limit], True
    return text, False


TIME_FIELDS = (("timestamp", "timestamp"), ("processed_on", "processedOn"),
               ("finished_on", "finishedOn"))


def malformed(job: Job) -> list[tuple[str, str, str]]:
    """(field, what is wrong, its stored text cut short) of each field another
    client wrote that BullMQ would not have (Job.malformed), and times too far
    out to be dates."""
    marks = dict(job.malformed)
    for attr, field in TIME_FIELDS:
        if getattr(job, attr) and when(getattr(job, attr)) is None:
            marks[field] = "a time out of range"
    return [(field, why, (job.raw.get(field) or "")[:200]) for field, why in sorted(marks.items())]


def _parent(job: Job) -> tuple[str | None, str | None]:
    """(parent job id, parent queue name) when the parent field is BullMQ's."""
    if job.parent is None or "parent" in job.malformed:
        return None, None
    return job.parent["id"], job.parent["queueKey"].split(":")[-1]


def summary(job: Job, state: str | None = None) -> dict[str, Any]:
    """What a job row shows (no data: lists read jobs without it)."""
    return {
        "malformed": malformed(job),
        "id": job.id,
        "name": job.name,
        "state": state,
        "added": when(job.timestamp),
        "started": when(job.processed_on),
        "finished": when(job.finished_on),
        "run_time": duration(job.processed_on, job.finished_on),
        "attempts_made": job.attempts_made,
        "attempts": job.opts.get("attempts") or 1,
        "progress": job.progress,
        "progress_percent": progress_percent(job.progress),
        "failed_reason": (job.failed_reason or "").splitlines()[0][:300]
        if job.failed_reason else "",
        "delay": job.delay,
        "priority": job.priority,
        "due": when(job.timestamp + job.delay) if job.delay else None,
    }


def detail(job: Job, state: str, conf: DashboardSettings) -> dict[str, Any]:
    """Everything the job page shows, with the configured formatter applied."""
    data = job.data
    if conf.formatter is not None:
        data = conf.formatter({"name": job.name, "data": data, "queue": job.queue.name})["data"]
    data_text, data_cut = pretty_json(data)
    return_text, return_cut = pretty_json(job.returnvalue)
    opts_text, _ = pretty_json(job.opts)
    parent_id, parent_queue = _parent(job)
    return {
        **summary(job, state),
        "wait_time": duration(job.timestamp + (job.delay or 0), job.processed_on),
        "total_time": duration(job.timestamp, job.finished_on),
        "attempts_started": job.attempts_started,
        "stalled_counter": job.stalled_counter,
        "failed_reason_full": job.failed_reason or "",
        "stacktrace": job.stacktrace,
        "data_text": data_text,
        "data_cut": data_cut,
        "returnvalue_text": return_text if job.returnvalue is not None else "",
        "returnvalue_cut": return_cut,
        "opts_text": opts_text,
        "processed_by": job.processed_by,
        "parent_key": job.parent_key,
        "parent_id": parent_id,
        "parent_queue": parent_queue,
        "scheduler_id": job.scheduler_id,
        "deferred_failure": job.deferred_failure,
    }
