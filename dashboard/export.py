"""Export of a queue tab or a search as JSON lines or CSV, streamed: the jobs
are read in bounded chunks (queuecore.search, whole jobs) and each chunk is
written out before the next is read, so a million-job export never sits in
memory. Job data goes through the dashboard's FORMATTER, as on the job page."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.views.decorators.http import require_GET

from queuecore import Job, Queue
from queuecore.errors import InvalidOptionError
from queuecore.search import EVERY, JobSearch, make_query

from . import presenters, search
from .access import gate, redactor
from .conf import dashboard_settings
from .contexts import queue_or_404
from .queues import REFUSED
from .undecodable import escaped, json_escapes
from .views import file_name

FORMATS = {"jsonl": ("application/x-ndjson; charset=utf-8", "jsonl"),
           "csv": ("text/csv; charset=utf-8", "csv")}
COLUMNS = ("id", "name", "state", "added", "started", "finished", "attempts_made",
           "failed_reason", "progress", "data", "returnvalue")
CHUNK = 200  # whole jobs per Lua call (data included)
BUDGET = 4 << 20  # and at most about this many bytes
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # spreadsheets run cells starting so


def _iso(ms: int | None) -> str | None:
    moment = presenters.when(ms)
    return moment.isoformat() if moment else None


def record(job: Job, state: str, queue: str, formatter: Callable[..., Any] | None,
           redact: Callable[[str], str] | None = None) -> dict[str, Any]:
    data = job.data
    if formatter is not None:
        data = formatter({"name": job.name, "data": data, "queue": queue})["data"]
    reason = job.failed_reason
    if redact is not None and reason:  # "child <key> failed" may name a hidden queue
        reason = redact(reason)
    return {"id": job.id, "name": job.name, "state": state, "added": _iso(job.timestamp),
            "started": _iso(job.processed_on), "finished": _iso(job.finished_on),
            "attempts_made": job.attempts_made, "failed_reason": reason,
            "progress": job.progress, "data": data, "returnvalue": job.returnvalue}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                           default=str)
    # a leading ' keeps a spreadsheet from running job text as a formula
    return "'" + text if text.startswith(FORMULA_START) else text


def encode_jsonl(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records)


def encode_csv(records: list[dict[str, Any]], header: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(COLUMNS)
    for r in records:
        writer.writerow([_cell(r[c]) for c in COLUMNS])  # ids too: other clients choose them
    return out.getvalue()


async def stream(queue: Queue, job_search: JobSearch, fmt: str,
                 formatter: Callable[..., Any] | None,
                 redact: Callable[[str], str] | None = None) -> AsyncIterator[str]:
    """The export, one piece per chunk read (an async iterator: under ASGI
    Django would read a sync one whole before sending it)."""
    if fmt == "csv":
        yield encode_csv([], header=True)
    while not job_search.done:
        try:
            progress = await queue.connection.arun(job_search.step())
        except REFUSED:  # a state key of the wrong type: the export ends with what it has
            return
        records = [record(job, state, queue.name, formatter, redact)
                   for job, state in progress.jobs]
        if records:  # foreign bytes: \udcff escapes in JSON, the text \xff in CSV
            yield (json_escapes(encode_jsonl(records)) if fmt == "jsonl"
                   else escaped(encode_csv(records)))


@require_GET
@gate()
def export(request: HttpRequest, name: str) -> HttpResponse:
    """``?state=<tab>`` exports a tab (``latest`` or ``all``: every job);
    with ``q`` (and ``kind``) it exports that search; ``format`` is jsonl or csv."""
    conf = dashboard_settings()
    queue = queue_or_404(conf, name)
    fmt = request.GET.get("format", "jsonl")
    if fmt not in FORMATS:
        return HttpResponseBadRequest(f"format must be jsonl or csv, not {fmt!r}")
    try:
        if request.GET.get("q", "") != "" or "kind" in request.GET:
            query = search.query_from(request.GET)
            label = "search"
        else:
            state = request.GET.get("state") or "all"
            query = make_query(EVERY, states=None if state in ("all", "latest") else state)
            label = "all" if state in ("all", "latest") else state
    except InvalidOptionError as exc:
        return HttpResponseBadRequest(str(exc))
    content_type, ext = FORMATS[fmt]
    # whole jobs, matched on what the user is shown (as the search page)
    job_search = search.job_search(queue, query, request.user, conf, fields=(), chunk=CHUNK,
                                   budget=BUDGET)
    response = StreamingHttpResponse(stream(queue, job_search, fmt, conf.formatter,
                                            redactor(request.user)),
                                     content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{file_name(name, label)}.{ext}"'
    return response
