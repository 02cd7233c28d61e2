"""Live updates: one websocket consumer per open page. Sockets showing the
same view (dashboard/live.py) share its follower and its render: at most
twice a second while its queues are busy, every 5 s regardless, the page's
partials are rendered once with the same templates as the HTTP views and sent
to every socket showing it as htmx out-of-band swaps. However busy the queue,
the browser gets a few small messages a second and is never more than about
half a second behind."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from functools import partial
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http import Http404

from queuecore import Queue

from . import contexts, live
from .access import (
    allowed_actions,
    may_see_queue,
    may_view,
    queue_rules,
    visible,
)
from .conf import DashboardSettings, dashboard_settings
from .queues import STATES, visible_queues
from .rendering import render_to_string

CHARTS_INTERVAL_S = 10.0  # charts cover an hour per minute: redrawn less often


class LiveConsumer(AsyncWebsocketConsumer):
    """Base: authentication, and joining the page's shared view; subclasses
    say what the view is (``view()``)."""

    conf: DashboardSettings
    shown: live.View | None = None
    follower: asyncio.Future[None] | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        allowed = user is not None and await database_sync_to_async(may_view)(user)
        if not allowed:
            await self.close(code=4403)
            return
        self.conf = dashboard_settings()
        self.user = user
        # a queue the user may not see is as absent as one that does not exist
        name = self.scope.get("url_route", {}).get("kwargs", {}).get("name")
        if name is not None and not await database_sync_to_async(may_see_queue)(user, name):
            await self.close(code=4404)
            return
        rules = await database_sync_to_async(queue_rules)(user)  # cached: renders need no DB
        self.can = await database_sync_to_async(allowed_actions)(user, name)
        # What changes the HTML besides the page: the actions offered and the
        # queues the user may see (which redaction hides).
        seen = None if rules is None else tuple(sorted({pattern for pattern, _ in rules}))
        self.permissions: Hashable = (tuple(sorted(self.can.items())), seen)
        # Forms in pushed partials need a CSRF token: Django accepts the
        # (unmasked) secret from the page's own csrftoken cookie.
        self.csrf_token = self.scope.get("cookies", {}).get(settings.CSRF_COOKIE_NAME, "")
        try:
            await sync_to_async(self.setup, thread_sensitive=False)()
        except Http404:
            await self.close(code=4404)
            return
        await self.accept()
        self.follower = asyncio.ensure_future(self.follow())

    async def disconnect(self, code: int) -> None:
        if self.follower is not None:
            self.follower.cancel()
            await asyncio.gather(self.follower, return_exceptions=True)
        if self.shown is not None:
            await live.hub(self.conf).leave(self.shown, self.channel_name)
            self.shown = None

    def setup(self) -> None:
        """Check what the page shows exists (raise Http404 if not)."""

    def view(self) -> tuple[Hashable, tuple[str, ...], Callable[[], str]]:
        """The view's key, the queues whose events change it, and its render
        (sync; it must not read this socket's state: it serves them all)."""
        raise NotImplementedError

    async def follow(self) -> None:
        key, queues, render = await sync_to_async(self.view, thread_sensitive=False)()
        self.shown = await live.hub(self.conf).join(key, queues, render, self.channel_name)

    async def live_push(self, event: dict[str, Any]) -> None:
        html = event["html"]
        if live.CSRF_PLACEHOLDER in html:
            html = html.replace(live.CSRF_PLACEHOLDER, self.csrf_token)
        await self.send(text_data=html)


class OverviewConsumer(LiveConsumer):
    def view(self) -> tuple[Hashable, tuple[str, ...], Callable[[], str]]:
        queues = tuple(visible(self.user, visible_queues(self.conf)))
        # the overview offers no actions: only the queues seen tell users apart
        return (("overview", self.permissions[1]), queues,
                partial(render_overview, self.conf, self.user))


def render_overview(conf: DashboardSettings, user: Any) -> str:
    return render_to_string("dashboard/partials/queue_table.html",
                            {**contexts.overview_context(conf, user), "oob": True})


class QueueConsumer(LiveConsumer):
    def setup(self) -> None:
        name = self.scope["url_route"]["kwargs"]["name"]
        self.queue = contexts.queue_or_404(self.conf, name)
        query = parse_qs(self.scope.get("query_string", b"").decode())
        state = query.get("state", ["latest"])[0]
        self.state = state if state in STATES else "latest"
        try:
            self.page = max(1, int(query.get("page", ["1"])[0]))
        except ValueError:
            self.page = 1
        self.asc = query.get("order", [""])[0] == "oldest"

    def view(self) -> tuple[Hashable, tuple[str, ...], Callable[[], str]]:
        key = ("queue", self.queue.name, self.state, self.page, self.asc, self.permissions)
        return key, (self.queue.name,), QueueRender(self.conf, self.user, self.queue, self.state,
                                                    self.page, self.asc, self.can)


class QueueRender:
    """A queue page's partials; the charts only every CHARTS_INTERVAL_S."""

    def __init__(self, conf: DashboardSettings, user: Any, queue: Queue, state: str, page: int,
                 asc: bool, can: dict[str, bool]) -> None:
        self.conf, self.user, self.queue, self.state = conf, user, queue, state
        self.page, self.asc, self.can = page, asc, can
        self.charts_at = 0.0

    def __call__(self) -> str:
        context: dict[str, Any] = {
            **contexts.queue_context(self.conf, self.user, self.queue, self.state, self.page,
                                     self.asc),
            "oob": True, "can": self.can}
        html = (render_to_string("dashboard/partials/tabs.html", context)
                + render_to_string("dashboard/partials/job_list.html", context))
        now = time.monotonic()
        if now - self.charts_at >= CHARTS_INTERVAL_S:
            self.charts_at = now
            html += render_to_string("dashboard/partials/charts.html", {
                **contexts.charts_context(self.queue), "oob": True})
        return html


class JobConsumer(LiveConsumer):
    def setup(self) -> None:
        kwargs = self.scope["url_route"]["kwargs"]
        self.queue = contexts.queue_or_404(self.conf, kwargs["name"])
        self.job_id = kwargs["job_id"]
        contexts.job_or_404(self.queue, self.job_id)  # 404 if it is gone

    def view(self) -> tuple[Hashable, tuple[str, ...], Callable[[], str]]:
        key = ("job", self.queue.name, self.job_id, self.permissions)
        return key, (self.queue.name,), partial(render_job, self.conf, self.user, self.queue,
                                                 self.job_id, self.can)


def render_job(conf: DashboardSettings, user: Any, queue: Queue, job_id: str,
               can: dict[str, bool]) -> str:
    """The job body, its forms with live.CSRF_PLACEHOLDER for each socket's own token."""
    try:
        context = contexts.job_context(conf, user, queue, job_id)
    except Http404:
        return ('<section id="job-body" hx-swap-oob="true">'
                "<p>This job was removed.</p></section>")
    return render_to_string("dashboard/partials/job_body.html", {
        **context, "oob": True, "can_operate": can["any"], "can": can,
        "csrf_token": live.CSRF_PLACEHOLDER})
