"""Live updates: one websocket consumer per open page. It follows the
queues' events streams and, at most twice a second, pushes the page's
partials re-rendered with the same templates as the HTTP views, as htmx
out-of-band swaps. However busy the queue, the browser gets a few small
messages a second and is never more than about half a second behind."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http import Http404
from redis.exceptions import ResponseError

from queuecore.text import as_bytes

from . import contexts
from .access import (
    allowed_actions,
    hide_unseen_flow,
    hide_unseen_rows,
    may_see_queue,
    may_view,
    queue_rules,
    visible,
)
from .conf import DashboardSettings, connection, dashboard_settings
from .queues import STATES, visible_queues
from .rendering import render_to_string

MIN_INTERVAL_S = 0.5  # coalescing: at most two pushes a second
CHARTS_INTERVAL_S = 10.0  # charts cover an hour per minute: redrawn less often
BLOCK_MS = 1000
RESYNC_S = 5.0  # push even without events, so counts of idle queues stay right


class LiveConsumer(AsyncWebsocketConsumer):
    """Base: authentication, the follow loop and coalescing; subclasses say
    which streams to follow and what to render."""

    conf: DashboardSettings

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
        await database_sync_to_async(queue_rules)(user)  # cached: renders need no DB
        self.can = await database_sync_to_async(allowed_actions)(user, name)
        self.can_operate = self.can["any"]
        # Forms in pushed partials need a CSRF token: Django accepts the
        # (unmasked) secret from the page's own csrftoken cookie.
        self.csrf_token = self.scope.get("cookies", {}).get(settings.CSRF_COOKIE_NAME, "")
        try:
            await sync_to_async(self.setup, thread_sensitive=False)()
        except Http404:
            await self.close(code=4404)
            return
        await self.accept()
        self.client = connection(self.conf.redis_url).new_async_client(socket_timeout=None)
        self.follower = asyncio.ensure_future(self.follow())

    async def disconnect(self, code: int) -> None:
        follower = getattr(self, "follower", None)
        if follower is not None:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
            await self.client.aclose()

    def setup(self) -> None:
        """Check what the page shows exists (raise Http404 if not)."""

    def streams(self) -> list[str]:
        raise NotImplementedError

    def render(self) -> str:
        raise NotImplementedError

    async def follow(self) -> None:
        # read from the streams' current ends, taken before the first render, so
        # no event between that render and the first read is missed
        last_ids = {}
        for name in self.streams():
            key = as_bytes(name)  # a foreign byte goes back as that byte
            try:
                newest = await self.client.xrevrange(key, count=1)
            except ResponseError:  # not a stream (another client's key): not followed
                continue
            last_ids[key] = newest[0][0] if newest else "0-0"
        last_push = 0.0
        dirty = True  # the first push resynchronises a page opened a moment ago
        while True:
            if dirty or time.monotonic() - last_push > RESYNC_S:
                wait = MIN_INTERVAL_S - (time.monotonic() - last_push)
                if wait > 0:
                    await asyncio.sleep(wait)
                html = await sync_to_async(self.render, thread_sensitive=False)()
                await self.send(text_data=html)
                last_push = time.monotonic()
                dirty = False
            if not last_ids:  # nothing to follow (no queues yet): resync now and then
                await asyncio.sleep(BLOCK_MS / 1000)
                continue
            # one event is enough to know the page changed: skip to the newest
            # id instead of reading a busy queue's whole backlog
            reply = await self.client.xread(last_ids, count=1, block=BLOCK_MS)
            for stream, entries in reply or []:
                if entries:
                    key = as_bytes(stream)
                    newest = await self.client.xrevrange(key, count=1)
                    last_ids[key] = newest[0][0] if newest else entries[-1][0]
                    dirty = True


class OverviewConsumer(LiveConsumer):
    def streams(self) -> list[str]:
        return [f"{self.conf.prefix}:{name}:events"
                for name in visible(self.user, visible_queues(self.conf))]

    def render(self) -> str:
        return render_to_string("dashboard/partials/queue_table.html",
                                {**contexts.overview_context(self.conf, self.user), "oob": True})


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

    def streams(self) -> list[str]:
        return [self.queue.keys["events"]]

    def render(self) -> str:
        context: dict[str, Any] = {
            **contexts.queue_context(self.conf, self.queue, self.state, self.page, self.asc),
            "oob": True, "can": self.can}
        hide_unseen_rows(self.user, context["rows"])
        html = (render_to_string("dashboard/partials/tabs.html", context)
                + render_to_string("dashboard/partials/job_list.html", context))
        now = time.monotonic()
        if now - getattr(self, "charts_at", 0.0) >= CHARTS_INTERVAL_S:
            self.charts_at = now
            html += render_to_string("dashboard/partials/charts.html", {
                **contexts.charts_context(self.conf, self.queue), "oob": True})
        return html


class JobConsumer(LiveConsumer):
    def setup(self) -> None:
        kwargs = self.scope["url_route"]["kwargs"]
        self.queue = contexts.queue_or_404(self.conf, kwargs["name"])
        self.job_id = kwargs["job_id"]
        contexts.job_context(self.conf, self.queue, self.job_id)  # 404 if it is gone

    def streams(self) -> list[str]:
        return [self.queue.keys["events"]]

    def render(self) -> str:
        try:
            context = hide_unseen_flow(self.user,
                                       contexts.job_context(self.conf, self.queue, self.job_id))
        except Http404:
            return ('<section id="job-body" hx-swap-oob="true">'
                    "<p>This job was removed.</p></section>")
        return render_to_string("dashboard/partials/job_body.html", {
            **context, "oob": True, "can_operate": self.can_operate, "can": self.can,
            "csrf_token": self.csrf_token})
