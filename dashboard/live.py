"""One follower and one render per view, however many sockets show it.

A *view* is what changes a live page's HTML: page kind, queue, state, page
number, order and the viewer's permission set (``View.key``). The first
socket that shows a view starts it: a task that, at most twice a second when
its queues had events and every 5 s regardless, renders the page's partials
once and sends them to the view's Channels group, so to every socket showing
it. The last socket leaving stops it.

The process's views share one ``queuecore.EventsFollower``: one connection
and one blocking read over every watched queue's events stream. It starts with
the first view and stops with the last.

Groups are named per process (``live.<process>.<view hash>``): each process
renders the views its own sockets show, so with ``channels-redis`` as the
layer a socket never gets another process's copy of the same render.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from queuecore import EventsFollower

from .conf import DashboardSettings, connection

logger = logging.getLogger("dashboard.live")

MIN_INTERVAL_S = 0.5  # coalescing: at most two pushes a second
RESYNC_S = 5.0  # push even without events, so counts of idle queues stay right
BLOCK_MS = 1000
PUSH = "live.push"  # the group message type: LiveConsumer.live_push
PROCESS = secrets.token_hex(6)  # group names of this process
FOLLOWER_NAME = "dashboard-live"  # the follower's client name (CLIENT LIST)
# In shared renders a socket's own CSRF token replaces this (unguessable) text.
CSRF_PLACEHOLDER = "csrf-" + secrets.token_hex(16)


@dataclass(eq=False)
class View:
    key: Hashable
    queues: tuple[str, ...]  # whose events make it dirty
    render: Callable[[], str]  # sync: runs in a worker thread
    group: str
    sockets: set[str] = field(default_factory=set)
    dirty: asyncio.Event = field(default_factory=asyncio.Event)
    renders: int = 0
    task: asyncio.Task[None] | None = None


def group_name(key: Hashable) -> str:
    """A valid Channels group name (ASCII, under 100 characters) for any key."""
    return f"live.{PROCESS}.{hashlib.sha256(repr(key).encode()).hexdigest()[:40]}"


class Hub:
    """The views and the follower of one event loop."""

    def __init__(self, conf: DashboardSettings) -> None:
        self.conf = conf
        self.views: dict[Hashable, View] = {}
        self.follower: EventsFollower | None = None
        self.follower_task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()

    async def join(self, key: Hashable, queues: tuple[str, ...], render: Callable[[], str],
                   channel_name: str) -> View:
        """Show the view on this socket; the next push resynchronises it."""
        async with self.lock:
            view = self.views.get(key)
            if view is None:
                view = self.views[key] = View(key, queues, render, group_name(key))
            view.sockets.add(channel_name)
            try:
                await get_channel_layer().group_add(view.group, channel_name)
                if view.task is None:
                    await self._watch()  # from the streams' ends before the first render
                    view.task = asyncio.ensure_future(self._run(view))
            except BaseException:  # cancelled (the socket closed) or failed: nothing left over
                await self._drop(view, channel_name)
                raise
        view.dirty.set()  # the newcomer's first push, at the view's next turn
        return view

    async def leave(self, view: View, channel_name: str) -> None:
        async with self.lock:
            await self._drop(view, channel_name)

    async def _drop(self, view: View, channel_name: str) -> None:
        """The socket leaves the view; the view's last stops it, the last view the follower."""
        view.sockets.discard(channel_name)
        await get_channel_layer().group_discard(view.group, channel_name)
        if view.sockets or self.views.get(view.key) is not view:
            return
        del self.views[view.key]
        if view.task is not None:
            view.task.cancel()
            await asyncio.gather(view.task, return_exceptions=True)
        await self._watch()
        if not self.views:
            await self._stop_follower()

    async def _watch(self) -> None:
        """The follower watches exactly the queues some view shows."""
        wanted = {name for view in self.views.values() for name in view.queues}
        if not wanted:
            return
        if self.follower is None:
            self.follower = EventsFollower(connection(self.conf.redis_url),
                                           prefix=self.conf.prefix, block_ms=BLOCK_MS,
                                           min_interval=MIN_INTERVAL_S,
                                           client_name=FOLLOWER_NAME)
        for name in self.follower.watched - wanted:
            self.follower.unwatch(name)
        await self.follower.awatch(*sorted(wanted - self.follower.watched))
        if self.follower_task is None:  # started watching: its first read follows them all
            self.follower_task = asyncio.ensure_future(self._follow(self.follower))

    async def _follow(self, follower: EventsFollower) -> None:
        async for changed in follower.changes():
            for view in list(self.views.values()):
                if not changed.isdisjoint(view.queues):
                    view.dirty.set()

    async def _stop_follower(self) -> None:
        follower, task = self.follower, self.follower_task
        self.follower = self.follower_task = None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if follower is not None:
            await follower.aclose()

    async def _run(self, view: View) -> None:
        # Pushes go out at least MIN_INTERVAL_S apart; the render starts about
        # its last duration early, so a busy view gets its two a second.
        last_push, took = 0.0, 0.0
        layer = get_channel_layer()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(view.dirty.wait(),
                                       RESYNC_S - took - (time.monotonic() - last_push))
            wait = MIN_INTERVAL_S - took - (time.monotonic() - last_push)
            if wait > 0:
                await asyncio.sleep(wait)
            view.dirty.clear()  # events from here on make it dirty again
            started = time.monotonic()
            try:
                html = await sync_to_async(view.render, thread_sensitive=False)()
            except Exception:  # one bad render must not end the view's pushes
                logger.exception("rendering live view %r failed", view.key)
                html = ""
            view.renders += 1
            took = min(time.monotonic() - started, MIN_INTERVAL_S / 2)
            wait = MIN_INTERVAL_S - (time.monotonic() - last_push)
            if wait > 0:
                await asyncio.sleep(wait)
            last_push = time.monotonic()
            if html:
                await layer.group_send(view.group, {"type": PUSH, "html": html})


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, Hub]] = \
    weakref.WeakKeyDictionary()


def hub(conf: DashboardSettings) -> Hub:
    """This event loop's hub for the server and prefix (Daphne runs one loop;
    tests may run several, one after another)."""
    hubs = _hubs.setdefault(asyncio.get_running_loop(), {})
    where = (conf.redis_url, conf.prefix)
    if where not in hubs:
        hubs[where] = Hub(conf)
    return hubs[where]
