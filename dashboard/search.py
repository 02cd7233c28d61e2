"""The dashboard's job search: reading the search form, and what the page
shows while a search runs (the rows, with the same job row partial as the
lists, and how far it has looked). The view (search_views.py) answers id
searches at once and hands the others to the search socket
(search_consumer.py), which walks the queue with queuecore.search."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from queuecore import Job, Queue
from queuecore.search import (
    EVERY,
    SEARCH_STATES,
    SUMMARY_FIELDS,
    JobSearch,
    SearchProgress,
    SearchQuery,
    make_query,
)

from . import presenters
from .access import hide_unseen_rows, redactor
from .conf import DashboardSettings
from .rendering import render_to_string

MAX_RESULTS = 500  # rows a search shows; past that it stops and asks for a narrower search


def query_from(params: Mapping[str, str]) -> SearchQuery:
    """The query of a search form (``q``, ``kind``, ``state``); raises
    InvalidOptionError with a message for the page when it is not valid."""
    state = params.get("state") or "all"
    return make_query(params.get("kind") or "name", params.get("q", ""),
                      None if state in ("all", "latest") else state)


def job_search(queue: Queue, query: SearchQuery, user: Any, conf: DashboardSettings, *,
               fields: Sequence[str] = SUMMARY_FIELDS, **options: Any) -> JobSearch:
    """The search of ``query`` matching only what ``user`` is shown, so no
    probing reads back what the page hides: with a FORMATTER, data is
    matched as formatted (every job's data is read, in the same bounded
    chunks, and matched here); a reason naming a hidden queue, as redacted."""
    if query.kind == "data" and conf.formatter is not None:
        every = make_query(EVERY, states=query.states)
        return JobSearch(queue, every, fields=(*fields, "data") if fields else (),
                         keep=_formatted_match(query, conf.formatter, queue.name), **options)
    redact = redactor(user)
    if query.kind == "reason" and redact is not None:
        return JobSearch(queue, query, fields=fields, **options,
                         keep=lambda job: query.matches_value(redact(job.failed_reason or "")))
    return JobSearch(queue, query, fields=fields, **options)


def _formatted_match(query: SearchQuery, formatter: Callable[..., Any],
                     queue_name: str) -> Callable[[Job], bool]:
    def matches(job: Job) -> bool:
        try:
            shown = formatter({"name": job.name, "data": job.data, "queue": queue_name})
        except Exception:  # the project's own code: a job it cannot show matches nothing
            return False
        return isinstance(shown, dict) and query.matches_value(shown.get("data"))

    return matches


def params_of(query: SearchQuery) -> dict[str, str]:
    """The form values that give ``query`` again (socket and export URLs)."""
    state = "all" if query.states == SEARCH_STATES else query.states[0]
    return {"q": query.text, "kind": query.kind, "state": state}


def query_string(query: SearchQuery, **extra: str) -> str:
    return urlencode({**params_of(query), **extra})


def where(query: SearchQuery) -> str:
    return "all states" if query.states == SEARCH_STATES else query.states[0]


def rows(jobs: list[tuple[Job, str]], user: Any) -> list[dict[str, Any]]:
    return hide_unseen_rows(user, [presenters.summary(job, state) for job, state in jobs])


def progress_text(progress: SearchProgress | None, query: SearchQuery,
                  stopped: bool = False) -> str:
    """"Scanned 120,000 of 1,000,000 completed · 3 found", with how it ended."""
    if progress is None:
        return f"Searching {where(query)}…"
    found = f"{progress.matched:,} found"
    if query.kind == "id":
        if progress.matched:
            return f"Found job {query.text} ({progress.state})."
        return f"No job with id {query.text} in {where(query)}."
    if len(query.states) == 1:
        scanned = f"scanned {progress.scanned:,} of {progress.total:,} {query.states[0]}"
    else:
        scanned = f"scanned {progress.scanned:,} of {progress.total:,} jobs"
        if not progress.done and not stopped:
            scanned += f" (now in {progress.state})"
    if progress.limited:
        return (f"Stopped at the first {progress.matched:,} matches: {scanned}. "
                "Narrow the search to see the rest.")
    if stopped:
        return f"Stopped: {scanned} · {found}."
    if progress.done:
        return f"Done: {scanned} · {found}."
    return f"Searching: {scanned} · {found}…"


def render_progress(text: str, running: bool, oob: bool = False) -> str:
    return render_to_string("dashboard/partials/search_progress.html",
                            {"text": text, "running": running, "oob": oob})


def render_rows(queue_name: str, found: list[tuple[Job, str]], user: Any,
                reset: bool = False) -> str:
    """Rows appended to the results (or, with ``reset``, an emptied table body)."""
    return render_to_string("dashboard/partials/search_rows.html", {
        "rows": rows(found, user), "queue": {"name": queue_name}, "reset": reset,
        "state": "latest"})  # "latest": the row shows its state column
