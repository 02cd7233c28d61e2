"""Shared live views: one render per view and push, one follower per process
(dashboard/live.py), over websockets with Channels' communicator and real Redis."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission

from dashboard import live
from dashboard.conf import dashboard_settings
from dashboard.routing import websocket_urlpatterns
from queuecore import Queue
from tests.dashboard.test_permissions import _team, make_user, two_queues

__all__ = ["two_queues"]  # the fixture, imported for the tests below

pytestmark = pytest.mark.django_db(transaction=True)


async def open_socket(path: str, user: Any,
                      cookies: dict[str, str] | None = None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    communicator.scope["cookies"] = cookies or {}
    connected, _ = await communicator.connect(timeout=5)
    assert connected, path
    return communicator


def blocked_followers(redis_url: str) -> int:
    """The dashboard's followers' connections to this server."""
    with redis.Redis.from_url(redis_url, decode_responses=True) as r:
        return sum(1 for c in r.client_list() if c.get("name") == live.FOLLOWER_NAME)


def test_two_sockets_on_one_view_share_each_render(queue: Queue, django_user_model: Any) -> None:
    user = make_user(django_user_model)
    other = make_user(django_user_model)  # same permissions: same view
    path = f"/ws/queues/{queue.name}/?state=waiting"

    async def scenario() -> tuple[str, str, str, int, int]:
        first = await open_socket(path, user)
        own = await first.receive_from(timeout=5)  # its resync, rendered for it alone
        second = await open_socket(path, other)
        joined = await second.receive_from(timeout=5)  # the newcomer's resync ...
        shared = await first.receive_from(timeout=5)  # ... went to both
        hub = live.hub(dashboard_settings())
        views, renders = len(hub.views), next(iter(hub.views.values())).renders
        await first.disconnect()
        await second.disconnect()
        return own, joined, shared, views, renders

    own, joined, shared, views, renders = async_to_sync(scenario)()
    assert views == 1
    assert renders == 2  # three messages delivered, two renders
    assert joined == shared and 'id="job-list"' in joined and 'id="job-list"' in own


def test_a_push_reaches_every_socket_of_a_view_when_events_arrive(
        queue: Queue, django_user_model: Any) -> None:
    user = make_user(django_user_model)
    path = f"/ws/queues/{queue.name}/?state=waiting"

    async def until_shown(communicator: WebsocketCommunicator, job_id: str) -> str:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            message = await communicator.receive_from(timeout=5)
            if f'id="job-{job_id}"' in message:
                return message
        raise AssertionError(f"job {job_id} was never pushed")

    async def scenario() -> tuple[str, str]:
        sockets = [await open_socket(path, user) for _ in range(2)]
        for s in sockets:
            await s.receive_from(timeout=5)
        job = await sync_to_async(queue.add)("arrived", {"n": 1})
        shown = [await until_shown(s, job.id) for s in sockets]
        for s in sockets:
            await s.disconnect()
        return shown[0], shown[1]

    one, two = async_to_sync(scenario)()
    assert "arrived" in one and "arrived" in two


def test_different_permission_sets_get_different_html(two_queues: tuple[Queue, Queue],
                                                      django_user_model: Any) -> None:
    mine, hidden = two_queues
    everything = make_user(django_user_model)
    limited = make_user(django_user_model, groups=(_team(mine.name, False),))

    async def scenario() -> tuple[str, str, int]:
        wide = await open_socket("/ws/queues/", everything)
        narrow = await open_socket("/ws/queues/", limited)
        seen_all = await wide.receive_from(timeout=5)
        seen_mine = await narrow.receive_from(timeout=5)
        views = len(live.hub(dashboard_settings()).views)
        await wide.disconnect()
        await narrow.disconnect()
        return seen_all, seen_mine, views

    seen_all, seen_mine, views = async_to_sync(scenario)()
    assert views == 2
    assert hidden.name in seen_all and mine.name in seen_all
    assert hidden.name not in seen_mine and mine.name in seen_mine


def test_job_page_shares_its_render_but_not_the_csrf_token(queue: Queue,
                                                           django_user_model: Any) -> None:
    users = [make_user(django_user_model) for _ in range(2)]
    for user in users:
        user.user_permissions.add(Permission.objects.get(codename="operate_queues"))
    users = [django_user_model.objects.get(pk=u.pk) for u in users]
    job = queue.add("d", delay=60_000)
    path = f"/ws/queues/{queue.name}/jobs/{job.id}/"
    secrets = ["a" * 32, "b" * 32]

    async def scenario() -> tuple[list[str], int]:
        first = await open_socket(path, users[0], {"csrftoken": secrets[0]})
        await first.receive_from(timeout=5)
        second = await open_socket(path, users[1], {"csrftoken": secrets[1]})
        pushed = [await first.receive_from(timeout=5), await second.receive_from(timeout=5)]
        views = len(live.hub(dashboard_settings()).views)
        await first.disconnect()
        await second.disconnect()
        return pushed, views

    pushed, views = async_to_sync(scenario)()
    assert views == 1
    for message, mine, theirs in ((pushed[0], secrets[0], secrets[1]),
                                  (pushed[1], secrets[1], secrets[0])):
        assert f'name="csrfmiddlewaretoken" value="{mine}"' in message
        assert theirs not in message and live.CSRF_PLACEHOLDER not in message


def test_one_follower_for_every_view_stopped_by_the_last_socket(
        two_queues: tuple[Queue, Queue], redis_url: str, django_user_model: Any) -> None:
    user = make_user(django_user_model)
    queue, other = two_queues
    paths = [f"/ws/queues/{queue.name}/", f"/ws/queues/{queue.name}/?state=failed",
             f"/ws/queues/{other.name}/"]

    async def scenario() -> tuple[int, int, frozenset[str], int, bool]:
        sockets = [await open_socket(p, user) for p in paths]
        for s in sockets:
            await s.receive_from(timeout=5)
        hub = live.hub(dashboard_settings())
        assert hub.follower is not None
        watched = hub.follower.watched
        deadline = time.monotonic() + 5  # the follower's connection opens with its first read
        while (during := await sync_to_async(blocked_followers)(redis_url)) == 0 \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        views = len(hub.views)
        for s in sockets[:-1]:
            await s.disconnect()
        still = hub.follower is not None
        await sockets[-1].disconnect()
        await asyncio.sleep(0.2)
        after = await sync_to_async(blocked_followers)(redis_url)
        return during, after, watched, views, still and hub.follower is None

    during, after, watched, views, stopped_last = async_to_sync(scenario)()
    assert views == 3 and watched == {queue.name, other.name}
    assert during == 1  # one connection, one blocking read over both queues' streams
    assert stopped_last  # running until the last socket left, stopped then
    assert after == 0
