"""Live updates over websockets (Channels' communicator, real Redis)."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, Permission

from config.asgi import application
from dashboard.routing import websocket_urlpatterns
from queuecore import Job, Queue, Worker

pytestmark = pytest.mark.django_db(transaction=True)


def make_user(django_user_model: Any, *, staff: bool = True, view: bool = True) -> Any:
    user = django_user_model.objects.create_user(f"u{time.monotonic_ns()}", password="pw",
                                                 is_staff=staff)
    if view:
        user.user_permissions.add(Permission.objects.get(codename="view_queues"))
    return django_user_model.objects.get(pk=user.pk)  # fresh: no permission cache


async def connect(path: str, user: Any,
                  cookies: dict[str, str] | None = None) -> tuple[WebsocketCommunicator, bool, Any]:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    communicator.scope["cookies"] = cookies or {}
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


@pytest.mark.parametrize("who", ["anonymous", "not-staff", "no-permission"])
def test_socket_refuses_users_who_may_not_view(who: str, queue: Queue,
                                               django_user_model: Any) -> None:
    user = {"anonymous": lambda: AnonymousUser(),
            "not-staff": lambda: make_user(django_user_model, staff=False),
            "no-permission": lambda: make_user(django_user_model, view=False)}[who]()

    async def scenario() -> tuple[bool, Any]:
        communicator, connected, code = await connect(f"/ws/queues/{queue.name}/", user)
        await communicator.disconnect()
        return connected, code

    connected, code = async_to_sync(scenario)()
    assert not connected and code == 4403


def test_socket_checks_the_origin(queue: Queue) -> None:
    async def scenario() -> bool:
        communicator = WebsocketCommunicator(application, f"/ws/queues/{queue.name}/",
                                             headers=[(b"origin", b"http://evil.example"),
                                                      (b"host", b"localhost")])
        connected, _ = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)() is False


def test_queue_page_gets_counts_and_rows_live(queue: Queue, django_user_model: Any) -> None:
    user = make_user(django_user_model)

    async def scenario() -> tuple[str, str]:
        communicator, connected, _ = await connect(
            f"/ws/queues/{queue.name}/?state=waiting", user)
        assert connected
        first = await communicator.receive_from(timeout=5)  # resync on connect
        job = await sync_to_async(queue.add)("live", {"n": 1})
        deadline = time.monotonic() + 5
        while True:
            message = await communicator.receive_from(timeout=5)
            if f'id="job-{job.id}"' in message or time.monotonic() > deadline:
                break
        await communicator.disconnect()
        return first, message

    first, message = async_to_sync(scenario)()
    assert 'id="tabs" hx-swap-oob="true"' in first and 'id="job-list"' in first
    assert "live" in message and 'data-state="waiting">waiting <span class="count">1<' in message


def test_updates_are_coalesced_under_load(queue: Queue, redis_url: str,
                                          django_user_model: Any) -> None:
    user = make_user(django_user_model)
    queue.add_bulk([{"name": "n", "data": {"i": i}} for i in range(12_000)])

    async def noop(job: Job) -> None:
        await asyncio.sleep(0.0003)  # about 2,000 jobs a second, as the issue has it

    async def scenario() -> tuple[list[float], bool]:
        communicator, connected, _ = await connect(f"/ws/queues/{queue.name}/", user)
        assert connected
        await communicator.receive_from(timeout=5)
        worker = Worker(queue.name, noop, connection=redis_url)
        task = asyncio.ensure_future(worker.arun())
        stamps = []
        end = time.monotonic() + 2.0
        timed_out = False
        while time.monotonic() < end:
            try:
                await communicator.receive_from(timeout=2)
            except TimeoutError:  # the communicator cancels the app on a timeout
                timed_out = True
                break
            stamps.append(time.monotonic())
        busy = await sync_to_async(queue.get_job_counts)("waiting")
        await worker.aclose()
        await task
        if not timed_out:
            await communicator.disconnect()
        return stamps, busy["waiting"] > 0

    stamps, still_busy = async_to_sync(scenario)()
    assert still_busy  # the worker ran flat out for the whole window
    assert len(stamps) >= 3  # it kept pushing while the worker ran
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= 0.45  # never more than about two a second
    assert max(gaps) < 1.2  # and never far behind


def test_job_page_follows_progress(queue: Queue, django_user_model: Any) -> None:
    user = make_user(django_user_model)
    job = queue.add("p")

    async def scenario() -> str:
        communicator, connected, _ = await connect(f"/ws/queues/{queue.name}/jobs/{job.id}/",
                                                   user)
        assert connected
        await communicator.receive_from(timeout=5)
        await sync_to_async(job.update_progress)(40)
        message = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return message

    message = async_to_sync(scenario)()
    assert 'id="job-body" hx-swap-oob="true"' in message
    assert 'value="40"' in message


def test_pushed_job_body_carries_buttons_with_csrf(queue: Queue, django_user_model: Any) -> None:
    user = make_user(django_user_model)
    user.user_permissions.add(Permission.objects.get(codename="operate_queues"))
    user = django_user_model.objects.get(pk=user.pk)
    job = queue.add("d", delay=60_000)
    secret = "a" * 32

    async def scenario() -> str:
        communicator, connected, _ = await connect(
            f"/ws/queues/{queue.name}/jobs/{job.id}/", user, {"csrftoken": secret})
        assert connected
        message = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return message

    message = async_to_sync(scenario)()
    assert "<button>Promote</button>" in message
    assert f'name="csrfmiddlewaretoken" value="{secret}"' in message
