"""Property: whatever a foreign producer writes, no dashboard page answers 500
and no live push raises, and a good queue beside the bad ones still shows.

Each example writes, under a prefix of its own, one or two queues as another
client could: any names BullMQ accepts (and bytes that are not UTF-8), job
hashes with valid and invalid JSON, odd numbers and missing fields, in any
state's key, with logs, events, metrics, schedulers and flow links; then every
page (and every socket push) is rendered as a staff user. The keys are
deleted after each example."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission
from django.test import AsyncClient, Client
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.routing import websocket_urlpatterns
from dashboard.url_keys import url_segment
from queuecore import Queue, discovery

TEXT = "surrogateescape"  # how replies decode bytes that are not UTF-8


def enc(text: str) -> bytes:
    """Generated text as bytes; a surrogate becomes bytes that are not UTF-8."""
    return text.encode("utf-8", "surrogatepass")

STATES = ("latest", "active", "waiting", "waiting-children", "prioritized", "delayed",
          "completed", "failed", "paused")
LISTS = ("wait", "active", "paused")
ZSETS = ("prioritized", "delayed", "completed", "failed", "waiting-children")
FIELDS = ("name", "data", "opts", "progress", "returnvalue", "failedReason", "stacktrace",
          "timestamp", "processedOn", "finishedOn", "delay", "priority", "atm", "ats", "stc",
          "attemptsMade", "parentKey", "parent", "pb", "defa", "rjk", "deid", "cancelled")
ODD = [b"1e309", b"-1e309", b"NaN", b"Infinity", b"inf", b"-5", b"9" * 40, "²".encode(),
       b"", b" ", b"{", b"[1,", b"\xff\xfe", b'{"id": 1}', b'{"id": "x", "queueKey": "bull"}',
       b'{"id": "x"}', b'{"pct": 1e999}', b'["a", 1, null, {"b": []}]', b'"\xc3("', b"0x10",
       b"1.5", b"-0", b"null", b"true", b"[]", b"{}"]
ODD_NAMES = ["a/b", "a/jobs/b", "x/jobs/y/raw", "%", "%2F", "..", ".", " ", "~", "~s", "é/ü",
             "x?y#z", "-", "jobs", "<b>", "'\"", "*?[", "a\\b", "\t"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8)
values = st.one_of(
    json_values.map(lambda v: enc(json.dumps(v, ensure_ascii=False))),
    st.sampled_from(ODD),
    st.binary(max_size=16),
    st.text(max_size=12).map(enc),
    st.integers().map(lambda i: str(i).encode()),
)
names = st.one_of(
    st.sampled_from(ODD_NAMES).map(str.encode),
    st.text(st.characters(blacklist_characters=":", blacklist_categories=("Cs",)),
            min_size=1, max_size=10).map(str.encode),
    st.binary(min_size=1, max_size=8).filter(lambda b: b":" not in b),
)
ids = st.one_of(st.sampled_from(["", "a/b", "..", "~", "1", "repeat:s:1", "%", "x y"]).map(
    str.encode), st.binary(max_size=8), st.text(max_size=8).map(enc))


@dataclass
class ForeignJob:
    id: bytes
    where: str
    score: float
    fields: dict[str, bytes]
    logs: list[bytes]
    children: list[bytes]


@dataclass
class ForeignQueue:
    name: bytes
    jobs: list[ForeignJob]
    meta: dict[str, bytes]
    events: list[dict[bytes, bytes]]
    metrics: dict[str, tuple[dict[str, bytes], list[bytes]]]
    schedulers: list[tuple[bytes, float, dict[str, bytes]]]
    extra_keys: list[tuple[bytes, bytes]] = field(default_factory=list)


jobs = st.builds(
    ForeignJob, id=ids, where=st.sampled_from(LISTS + ZSETS),
    score=st.one_of(st.integers(-10**15, 10**15).map(float),
                    st.sampled_from([float("inf"), float("-inf"), 0.0, 1.5])),
    fields=st.dictionaries(st.sampled_from(FIELDS), values, max_size=10),
    logs=st.lists(values, max_size=3),
    children=st.lists(st.one_of(values, ids.map(lambda i: b"bull:" + i)), max_size=2))
queues = st.builds(
    ForeignQueue, name=names, jobs=st.lists(jobs, max_size=4),
    meta=st.dictionaries(st.sampled_from(["paused", "concurrency", "max", "opts.maxLenEvents",
                                          "version"]), values, max_size=3),
    events=st.lists(st.dictionaries(st.sampled_from([b"event", b"jobId", b"prev", b"data",
                                                     b"returnvalue"]), values, min_size=1,
                                    max_size=3), max_size=3),
    metrics=st.dictionaries(st.sampled_from(["completed", "failed"]), st.tuples(
        st.dictionaries(st.sampled_from(["count", "prevTS", "prevCount"]), values, max_size=3),
        st.lists(values, max_size=4)), max_size=2),
    schedulers=st.lists(st.tuples(ids, st.integers(-10**14, 10**16).map(float),
                                  st.dictionaries(st.sampled_from(
                                      ["name", "every", "pattern", "tz", "ic", "limit",
                                       "startDate", "endDate", "offset", "data", "opts"]),
                                      values, max_size=6)), max_size=2),
    # odd strings in plain keys, and keys of the wrong type (a string where
    # BullMQ keeps a list, a sorted set or a stream)
    extra_keys=st.lists(st.tuples(st.sampled_from([
        b"id", b"marker", b"limiter", b"de:x", b"wait", b"failed", b"completed", b"events",
        b"repeat", b"metrics:failed:data"]), values), max_size=2))


def write(client: redis.Redis, prefix: bytes, q: ForeignQueue) -> None:
    base = prefix + b":" + q.name + b":"
    client.hset(base + b"meta", mapping={"opts.maxLenEvents": b"10000", **q.meta})
    for job in q.jobs:
        key = base + job.id
        if job.fields:
            client.hset(key, mapping=job.fields)
        if job.where in LISTS:
            client.lpush(base + job.where.encode(), job.id)
        else:
            client.zadd(base + job.where.encode(), {job.id: job.score})
        if job.logs:
            client.rpush(key + b":logs", *job.logs)
        if job.children:
            client.sadd(key + b":dependencies", *job.children)
            client.hset(key + b":processed", mapping={c: b"1" for c in job.children})
    for entry in q.events:
        client.xadd(base + b"events", entry)
    for kind, (counters, points) in q.metrics.items():
        if counters:
            client.hset(base + b"metrics:" + kind.encode(), mapping=counters)
        if points:
            client.rpush(base + b"metrics:" + kind.encode() + b":data", *points)
    for sid, score, definition in q.schedulers:
        client.zadd(base + b"repeat", {sid: score})
        if definition:
            client.hset(base + b"repeat:" + sid, mapping=definition)
    for suffix, value in q.extra_keys:
        client.delete(base + suffix)
        client.set(base + suffix, value)


@pytest.fixture
def world(redis_url: str, raw_redis: redis.Redis, settings: Any) -> Iterator[Any]:
    """Write foreign queues, plus one good queue, under a prefix of this test."""
    prefix = f"fz{uuid.uuid4().hex[:8]}"
    settings.QUEUECORE = {"REDIS_URL": redis_url, "PREFIX": prefix}
    settings.QUEUECORE_DASHBOARD = {"QUEUES": None, "PAGE_SIZE": 3}
    good = Queue("good-queue", connection=redis_url, prefix=prefix)

    class World:
        def __init__(self) -> None:
            self.prefix, self.good = prefix, good

        def make(self, foreign: list[ForeignQueue]) -> list[str]:
            self.clear()
            good.add("fine", {"ok": True})
            for q in foreign:
                write(raw_redis, prefix.encode(), q)
            discovery.forget_discovered()
            return [q.name.decode("utf-8", TEXT) for q in foreign]

        def clear(self) -> None:
            keys = list(raw_redis.scan_iter(match=f"{prefix}:*".encode(), count=1000))
            if keys:
                raw_redis.delete(*keys)

    w = World()
    yield w
    w.clear()
    good.close()


def job_ids(queue: str, prefix: str, r: redis.Redis) -> list[str]:
    """What the dashboard can reach of a queue: every id in its state keys."""
    found: set[str] = set()
    base = f"{prefix}:{queue}:".encode("utf-8", TEXT)
    for where in (*LISTS, *ZSETS):
        key = base + where.encode()
        try:
            members = r.lrange(key, 0, -1) if where in LISTS else r.zrange(key, 0, -1)
        except redis.ResponseError:  # a key of the wrong type, written on purpose
            continue
        found.update(i.decode("utf-8", TEXT) for i in members)
    return sorted(found)[:6]


def ok(response: Any, *also: int) -> Any:
    assert response.status_code in (200, 302, *also), (response.status_code, response)
    if not response.streaming:
        response.content.decode("utf-8")  # it is text (a foreign byte shown, not sent)
    return response


@pytest.mark.django_db
@settings(max_examples=25)
@given(foreign=st.lists(queues, min_size=1, max_size=2, unique_by=lambda q: q.name))
def test_every_page_renders_foreign_data(foreign: list[ForeignQueue], world: Any,
                                         operator: Client, raw_redis: redis.Redis) -> None:
    bad = world.make(foreign)
    for url in ("/admin/queues/", "/admin/queues/-/workers/"):
        assert "good-queue" in ok(operator.get(url)).content.decode(), url
    ok(operator.get("/admin/queues/-/schedulers/"))
    ok(operator.get("/admin/queues/-/activity/"))
    for name in [*bad, "good-queue"]:
        for state in STATES:
            ok(operator.get(reverse("dashboard:queue", args=[name]), {"state": state}), 404)
        ok(operator.get(reverse("dashboard:failure_groups", args=[name])), 404)
        ok(operator.get(reverse("dashboard:failure_groups", args=[name]),
                        headers={"HX-Request": "true"}), 404)
        for kind in ("name", "data", "reason"):
            ok(operator.get(reverse("dashboard:search", args=[name]), {"kind": kind, "q": "a"}),
               400, 404)
        for job_id in job_ids(name, world.prefix, raw_redis):
            ok(operator.get(reverse("dashboard:job", args=[name, job_id])), 404)
            for part in ("data", "returnvalue"):
                raw = ok(operator.get(reverse("dashboard:job_raw", args=[name, job_id]),
                                      {"part": part}), 404)
                if raw.status_code == 200:
                    json.loads(raw.content)  # JSON, foreign bytes escaped
            typed = job_id.encode("utf-8", TEXT)  # as a browser would send a foreign byte
            ok(operator.get(reverse("dashboard:search", args=[name]),
                            {"kind": "id", "q": typed or b"x"}), 400, 404)
            ok(operator.get(reverse("dashboard:queue", args=[name]), {"job": typed}), 404)
        for fmt in ("jsonl", "csv"):
            status, body = async_to_sync(export)(operator, name, fmt)
            assert status in (200, 404)
            body.decode("utf-8")


async def export(client: Client, name: str, fmt: str) -> tuple[int, bytes]:
    """An export as Daphne serves it (ASGI: its body streams from an async iterator)."""
    async_client = AsyncClient()
    async_client.cookies = client.cookies
    response = await async_client.get(reverse("dashboard:export", args=[name]),
                                      {"format": fmt})
    if not response.streaming:
        return response.status_code, response.content
    return response.status_code, b"".join([piece async for piece in response.streaming_content])


def staff(django_user_model: Any) -> Any:
    user = django_user_model.objects.create_user(f"fz{uuid.uuid4().hex[:8]}", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(
        codename__in=["view_queues", "operate_queues"]))
    return django_user_model.objects.get(pk=user.pk)


async def pushes(path: str, user: Any, until_closed: bool = False) -> list[str]:
    """The first push of a live page (every push, for a search socket, until it closes)."""
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    communicator.scope["cookies"] = {}
    connected, _ = await communicator.connect(timeout=5)
    if not connected:
        return []
    received = []
    while True:
        output = await communicator.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            break
        received.append(output["text"])
        if not until_closed:
            break
    await communicator.disconnect()
    return received


@pytest.mark.django_db(transaction=True)
@settings(max_examples=20)
@given(foreign=st.lists(queues, min_size=1, max_size=2, unique_by=lambda q: q.name))
def test_every_socket_push_renders_foreign_data(foreign: list[ForeignQueue], world: Any,
                                                raw_redis: redis.Redis,
                                                django_user_model: Any) -> None:
    bad = world.make(foreign)
    user = staff(django_user_model)

    async def scenario() -> list[str]:
        sent = await pushes("/ws/queues/", user)
        assert sent and "good-queue" in sent[0]
        for name in [*bad, "good-queue"]:
            segment = url_segment(name)
            for state in ("latest", "failed", "waiting"):
                sent += await pushes(f"/ws/queues/{segment}/?state={state}", user)
            sent += await pushes(f"/ws/queues/{segment}/search/?kind=data&q=a", user,
                                 until_closed=True)
            for job_id in job_ids(name, world.prefix, raw_redis):
                sent += await pushes(f"/ws/queues/{segment}/jobs/{url_segment(job_id)}/", user)
        return sent

    for text in async_to_sync(scenario)():
        text.encode("utf-8")  # what goes on the socket is text: foreign bytes shown
