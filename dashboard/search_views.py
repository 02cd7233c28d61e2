"""The search box's view: checks the query, answers an id search at once, and
for the others returns the results area whose socket (search_consumer.py)
streams the matches in."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from queuecore.errors import InvalidOptionError
from queuecore.search import JobSearch

from . import search
from .access import gate
from .conf import dashboard_settings
from .contexts import queue_or_404
from .queues import REFUSED
from .rendering import render
from .url_keys import url_segment


@require_GET
@gate()
def search_view(request: HttpRequest, name: str) -> HttpResponse:
    conf = dashboard_settings()
    queue = queue_or_404(conf, name)
    context = {"queue": {"name": name}, "state": "latest"}
    try:
        query = search.query_from(request.GET)
    except InvalidOptionError as exc:
        # htmx swaps only 2xx answers: the message must reach the page
        status = 200 if request.htmx else 400
        return render(request, _template(request), {**context, "error": str(exc)},
                      status=status)
    context.update(query=query, where=search.where(query),
                   export_query=search.query_string(query))
    if query.kind == "id":  # one HGETALL: no need for a socket
        job_search = JobSearch(queue, query)
        try:
            progress = queue.connection.run(job_search.step())
        except REFUSED as exc:  # a state key of the wrong type
            context.update(rows=[], text=f"Search failed: {exc}", running=False)
        else:
            context.update(rows=search.rows(progress.jobs, request.user),
                           text=search.progress_text(progress, query), running=False)
    else:
        context.update(rows=[], text=search.progress_text(None, query), running=True,
                       socket_url=f"/ws/queues/{url_segment(name)}/search/?{search.query_string(query)}")
    return render(request, _template(request), context)


def _template(request: HttpRequest) -> str:
    """The results area for the search box (htmx); a page of its own when the
    address is opened directly."""
    return ("dashboard/partials/search_results.html" if request.htmx
            else "dashboard/search.html")
