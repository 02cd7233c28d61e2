"""How the dashboard renders: every page, fragment and socket push goes
through here, so foreign bytes never reach a response unescaped (see
undecodable.py), and what is missing gets the dashboard's own 404 page."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string as django_render_to_string

from .undecodable import marked_html


def render_to_string(template: str, context: dict[str, Any],
                     request: HttpRequest | None = None) -> str:
    return marked_html(django_render_to_string(template, context, request))


def render(request: HttpRequest, template: str, context: dict[str, Any] | None = None,
           status: int = 200) -> HttpResponse:
    return HttpResponse(render_to_string(template, context or {}, request), status=status)


# The same words for a queue that does not exist and one the user may not see
# (the address already holds the name: the page does not repeat it)
NO_QUEUE = "no queue of that name here"


class Missing(Http404):
    """A job (or other thing) of a queue that is not there: its 404 page links
    back to the queue."""

    def __init__(self, what: str, queue: str | None = None) -> None:
        super().__init__(what)
        self.queue = queue


def not_found(request: HttpRequest, what: str, queue: str | None = None) -> HttpResponse:
    """The dashboard's 404 page (with DEBUG on too): what is missing, and a way back."""
    return render(request, "dashboard/404.html", {"what": what, "queue_name": queue},
                  status=404)
