"""Foreign data on the dashboard, case by case: names and ids BullMQ accepts
(``/``, empty, ``%``, ``?``, ``#``, spaces, unicode), bytes that are not
UTF-8, fields that are not what BullMQ writes; and the dashboard's own 404
page. The property-based sweep over all of it is test_foreign_data.py."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.test import Client
from django.urls import reverse

from queuecore import Queue
from queuecore.job import Job

pytestmark = pytest.mark.django_db

ODD_IDS = ["a/b", "", "%41?x#y", "sp ace", "é✓", "..", ".", "~", "~s", "a~b/c", "jobs",
           "x/jobs/y/raw"]


@pytest.fixture
def slash_queue(redis_url: str, queue_name: str, settings: Any) -> Iterator[Queue]:
    q = Queue(f"{queue_name}/jobs/x", connection=redis_url)
    settings.QUEUECORE_DASHBOARD = {**settings.QUEUECORE_DASHBOARD,
                                    "QUEUES": [queue_name, q.name]}
    yield q
    q.obliterate(force=True)
    q.close()


def put_job(client: redis.Redis, queue: Queue, job_id: str | bytes, fields: dict[str, Any],
            where: str = "wait") -> None:
    """A job written straight into Redis, as another client might."""
    key = queue.keys.job("").encode() + (job_id if isinstance(job_id, bytes)
                                         else job_id.encode())
    client.hset(key, mapping={"name": "foreign", "timestamp": "1700000000000", **fields})
    if where == "wait":
        client.lpush(queue.keys["wait"], job_id)
    else:
        client.zadd(queue.keys[where], {job_id: 1700000000000})


def links(page: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', page)


def test_queue_name_with_slash_renders_links_and_acts(operator: Client, slash_queue: Queue,
                                                      queue: Queue) -> None:
    job = slash_queue.add("j", {"n": 1})
    queue.add("good", {})
    slash_queue.upsert_job_scheduler("s", {"every": 60_000}, {"name": "tick"})
    queue.upsert_job_scheduler("s", {"every": 60_000}, {"name": "tick"})
    for url in ("/admin/queues/", "/admin/queues/-/workers/", "/admin/queues/-/schedulers/"):
        response = operator.get(url)
        assert response.status_code == 200, url
        assert queue.name in response.content.decode()
    page_url = reverse("dashboard:queue", args=[slash_queue.name])
    assert page_url in operator.get("/admin/queues/").content.decode()
    page = operator.get(page_url)
    assert page.status_code == 200 and f"<h1>{slash_queue.name}" in page.content.decode()
    job_url = reverse("dashboard:job", args=[slash_queue.name, job.id])
    assert job_url in page.content.decode()
    assert operator.get(job_url).status_code == 200
    operator.post(reverse("dashboard:queue_action", args=[slash_queue.name, "pause"]))
    assert slash_queue.is_paused()


@pytest.mark.parametrize("job_id", ODD_IDS)
def test_any_job_id_lists_links_and_acts(operator: Client, queue: Queue,
                                         raw_redis: redis.Redis, job_id: str) -> None:
    put_job(raw_redis, queue, job_id, {"data": '{"n": 1}', "opts": "{}"})
    listing = operator.get(f"/admin/queues/{queue.name}/?state=waiting")
    assert listing.status_code == 200
    url = reverse("dashboard:job", args=[queue.name, job_id])
    assert url in links(listing.content.decode())
    page = operator.get(url)
    assert page.status_code == 200 and page.context["job"]["id"] == job_id
    raw = operator.get(reverse("dashboard:job_raw", args=[queue.name, job_id]))
    assert raw.status_code == 200 and json.loads(raw.content) == {"n": 1}
    goto = operator.get(f"/admin/queues/{queue.name}/", {"job": job_id or " "})
    if job_id:
        assert goto.status_code == 302 and goto["Location"] == url
    operator.post(reverse("dashboard:job_action", args=[queue.name, job_id, "remove"]))
    assert queue.get_job(job_id) is None


def test_scheduler_id_with_slash(operator: Client, queue: Queue) -> None:
    queue.upsert_job_scheduler("every/5 min", {"every": 300_000}, {"name": "tick"})
    page = operator.get("/admin/queues/-/schedulers/")
    assert page.status_code == 200
    remove = reverse("dashboard:scheduler_action", args=[queue.name, "every/5 min", "remove"])
    assert remove in page.content.decode()
    operator.post(remove)
    assert queue.get_job_scheduler("every/5 min") is None


def test_undecodable_bytes_show_with_a_marker(operator: Client, queue: Queue,
                                              raw_redis: redis.Redis) -> None:
    put_job(raw_redis, queue, b"id\xff", {
        "name": b"n\xfe", "data": b'{"k": "v\xff"}', "opts": b'{"attempts": 3, "x": "\xc3"}',
        "failedReason": b"bad \xff", "stacktrace": b'["at \xff"]', "returnvalue": b'"\xfa"',
        "progress": b'"\xff"'}, where="failed")
    raw_redis.rpush(queue.keys.job("").encode() + b"id\xff:logs", b"line \xff")
    job_id = "id\udcff"
    listing = operator.get(f"/admin/queues/{queue.name}/?state=failed")
    assert listing.status_code == 200
    assert 'class="undecodable"' in listing.content.decode()
    url = reverse("dashboard:job", args=[queue.name, job_id])
    assert url in listing.content.decode()
    page = operator.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    for shown in ("v", "line ", "bad ", "at "):
        assert f'{shown}<span class="undecodable" title="byte 0xFF is not UTF-8">\\xff</span>' \
            in text
    raw = operator.get(reverse("dashboard:job_raw", args=[queue.name, job_id]))
    assert raw.status_code == 200
    assert json.loads(raw.content) == {"k": "v\udcff"}  # the byte, escaped: nothing lost


def test_odd_values_are_shown_as_malformed(operator: Client, queue: Queue,
                                           raw_redis: redis.Redis) -> None:
    put_job(raw_redis, queue, "inf", {"progress": "1e309", "opts": "{not json",
                                      "parent": '{"id": "p1"}', "parentKey": "nowhere",
                                      "timestamp": "soon", "processedOn": "9" * 30,
                                      "finishedOn": "-5"}, where="failed")
    put_job(raw_redis, queue, "nan", {"progress": '{"pct": NaN}', "atm": "²"},
            where="failed")
    put_job(raw_redis, queue, "fine", {"data": "{}"}, where="failed")
    listing = operator.get(f"/admin/queues/{queue.name}/?state=failed")
    assert listing.status_code == 200
    for job_id in ("inf", "nan", "fine"):
        assert f'id="job-{job_id}"' in listing.content.decode()
    page = operator.get(f"/admin/queues/{queue.name}/jobs/inf/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "malformed" in text and "1e309" in text and "{not json" in text
    job = queue.get_job("inf")
    assert set(job.malformed) >= {"progress", "opts", "parent", "timestamp"}
    assert job.progress == "1e309" and job.timestamp == 0
    assert operator.get(f"/admin/queues/{queue.name}/jobs/nan/").status_code == 200


def test_engine_reader_marks_malformed_fields(queue: Queue) -> None:
    job = Job(queue, "1", {"progress": "1e309", "data": "{x", "opts": "[1]", "atm": "²",
                           "parent": '{"id": 5, "queueKey": "bull:q"}', "stacktrace": '"s"'})
    assert job.progress == "1e309" and job.data == "{x" and job.opts == {}
    assert job.attempts_made == 0
    assert set(job.malformed) == {"progress", "data", "opts", "atm", "parent", "stacktrace"}
    good = queue.add("g", {"a": 1}, attempts=2)
    assert queue.get_job(good.id).malformed == {}


def test_metrics_that_are_not_numbers(operator: Client, queue: Queue, r: redis.Redis) -> None:
    base = queue.keys.base
    r.hset(base + "metrics:completed", mapping={"count": "²", "prevTS": "1700000000000",
                                                "prevCount": "x"})
    r.rpush(base + "metrics:completed:data", "²", "-3", "1e9", "7")
    r.hset(base + "metrics:failed", mapping={"count": "1", "prevTS": "²"})
    queue.add("j")
    page = operator.get(f"/admin/queues/{queue.name}/")
    assert page.status_code == 200 and page.context["charts"].source == "metrics"


def test_scheduler_fields_that_are_not_numbers(operator: Client, queue: Queue,
                                               r: redis.Redis) -> None:
    r.zadd(queue.keys["repeat"], {"odd": 1700000000000})
    r.hset(queue.keys["repeat"] + ":odd", mapping={"name": "x", "every": "1e309", "ic": "inf",
                                                   "endDate": "9" * 40, "pattern": "nope"})
    queue.upsert_job_scheduler("good", {"every": 60_000}, {"name": "tick"})
    page = operator.get("/admin/queues/-/schedulers/")
    assert page.status_code == 200 and "good" in page.content.decode()


# -- the dashboard's own 404 page -------------------------------------------------------

def dashboard_404(response: Any, what: str) -> None:
    assert response.status_code == 404
    text = response.content.decode()
    assert "dashboard/404.html" in [t.name for t in response.templates]
    assert what in text.lower() and 'href="/admin/queues/' in text


@pytest.mark.parametrize("debug", [False, True])
def test_missing_things_get_the_dashboards_404(operator: Client, queue: Queue,
                                               settings: Any, debug: bool) -> None:
    settings.DEBUG = debug
    job = queue.add("j")
    dashboard_404(operator.get(f"/admin/queues/{queue.name}/jobs/999999/"), "no job")
    goto = operator.get(f"/admin/queues/{queue.name}/?job=999999", follow=True)
    dashboard_404(goto, "no job")
    job.remove()
    dashboard_404(operator.get(f"/admin/queues/{queue.name}/jobs/{job.id}/"), "no job")
    dashboard_404(operator.get(f"/admin/queues/{queue.name}/jobs/{job.id}/raw/"), "no job")
    dashboard_404(operator.get("/admin/queues/elsewhere/"), "no queue")
    dashboard_404(operator.get(f"/admin/queues/{queue.name}/nothing/here/"), "nothing")


def test_unknown_queue_says_so_without_actions(operator: Client, queue: Queue,
                                               settings: Any) -> None:
    settings.QUEUECORE_DASHBOARD = {**settings.QUEUECORE_DASHBOARD, "QUEUES": None}
    response = operator.get("/admin/queues/no-such-queue/")
    dashboard_404(response, "no queue")
    assert "Obliterate" not in response.content.decode()
    assert "<form" not in response.content.decode()
    queue.add("j").remove()  # exists, but empty: its page as ever
    page = operator.get(f"/admin/queues/{queue.name}/")
    assert page.status_code == 200 and "Obliterate" in page.content.decode()


def test_fragments_at_their_own_url_render_in_the_page(operator: Client, queue: Queue) -> None:
    queue.add("j")
    for url in (f"/admin/queues/{queue.name}/failures/",
                f"/admin/queues/{queue.name}/search/?kind=name&q=j"):
        full = operator.get(url)
        assert full.status_code == 200
        text = full.content.decode()
        assert text.lstrip().startswith("<!doctype html>") and "<nav>" in text, url
        bare = operator.get(url, headers={"HX-Request": "true"})
        assert bare.status_code == 200 and "<!doctype html>" not in bare.content.decode()


def test_a_queue_with_keys_of_the_wrong_type_never_hides_the_others(
        operator: Client, queue: Queue, slash_queue: Queue, r: redis.Redis) -> None:
    queue.add("good")
    for suffix in ("wait", "failed", "meta", "events", "repeat", "metrics:completed"):
        r.set(slash_queue.keys.base + suffix, "not what BullMQ writes")
    overview = operator.get("/admin/queues/")
    assert overview.status_code == 200 and queue.name in overview.content.decode()
    for url in ("/admin/queues/-/workers/", "/admin/queues/-/schedulers/"):
        assert operator.get(url).status_code == 200, url
    for state in ("latest", "waiting", "failed"):
        page = operator.get(reverse("dashboard:queue", args=[slash_queue.name]),
                            {"state": state})
        assert page.status_code == 200
        assert "are not of the types BullMQ writes" in page.content.decode()
    assert "malformed keys" in overview.content.decode()
    r.delete(*(slash_queue.keys.base + s for s in ("wait", "failed", "meta", "events", "repeat",
                                                   "metrics:completed")))


def test_export_of_a_queue_with_keys_of_the_wrong_type(operator: Client, queue: Queue,
                                                      r: redis.Redis) -> None:
    from tests.dashboard.test_export import fetch
    queue.add("good")
    r.set(queue.keys.base + "failed", "not a sorted set")
    try:
        response, pieces = fetch(operator, f"/admin/queues/{queue.name}/export/?format=jsonl")
        assert response.status_code == 200  # it ends with what it could read
        assert all(json.loads(line) for line in b"".join(pieces).decode().splitlines())
    finally:
        r.delete(queue.keys.base + "failed")
