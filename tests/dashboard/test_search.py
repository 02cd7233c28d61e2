"""Job search: queuecore.search against the test Redis (each kind, the state
filter, the bound on each Lua call), the search view and the search socket
(streaming, progress, stop, escaping, bad input, access)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from dashboard import search as dashboard_search
from dashboard.search_consumer import SearchConsumer
from queuecore import InvalidOptionError, Job, Queue, Worker
from queuecore.search import JobSearch, SearchProgress, make_query, search_jobs
from tests.dashboard.test_consumers import connect, make_user
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def ids(queue: Queue, kind: str, text: str, states: Any = None, **options: Any) -> list[str]:
    return [job.id for progress in search_jobs(queue, kind, text, states, **options)
            for job, _ in progress.jobs]


@pytest.fixture
def shop(queue: Queue, run_worker: Any, redis_url: str) -> Queue:
    """Orders: 1-3 completed, 4-5 failed (card declined), 6 waiting, 7 delayed."""
    orders = [
        ("Send-Receipt", {"customer": {"id": 7, "vip": True}, "items": [{"sku": "A1"}]}),
        ("send-receipt", {"customer": {"id": 8, "vip": False}, "note": "Gift wrap"}),
        ("resize", {"customer": {"id": 9}, "path": "/img/cat.png"}),
        ("charge", {"customer": {"id": 7}, "fail": "card declined: insufficient funds"}),
        ("charge", {"customer": {"id": 10}, "fail": "gateway timeout"}),
    ]
    jobs = queue.add_bulk([{"name": n, "data": d, "opts": {"attempts": 1}} for n, d in orders])

    async def process(job: Job) -> str:
        if "fail" in job.data:
            raise RuntimeError(job.data["fail"])
        return "ok"

    worker = run_worker(Worker(queue.name, process, connection=redis_url))
    wait_for(lambda: sum(queue.get_job_counts("completed", "failed").values()) == 5, 10,
             what="the orders to be processed")
    worker.close(timeout=10)
    queue.add("charge", {"customer": {"id": 11}, "note": "waiting"})
    queue.add("report", {"customer": {"id": 7}}, delay=60_000)
    assert [j.id for j in jobs] == ["1", "2", "3", "4", "5"]
    return queue


# -- the engine --------------------------------------------------------------------


def test_each_kind_of_search(shop: Queue) -> None:
    assert ids(shop, "name", "SEND-receipt") == ["2", "1"]  # substring, any case, newest first
    assert ids(shop, "name", "charge") == ["6", "5", "4"]
    assert ids(shop, "data", "gift WRAP") == ["2"]
    assert ids(shop, "data", "/img/cat") == ["3"]
    assert sorted(ids(shop, "data", "customer.id=7")) == ["1", "4", "7"]  # nested key=value
    assert ids(shop, "data", "customer.vip=true") == ["1"]
    assert ids(shop, "data", "customer.vip = false") == ["2"]
    assert ids(shop, "data", "items.0.sku=A1") == ["1"]  # array items count from 0
    assert ids(shop, "data", "customer.id=77") == []
    assert ids(shop, "data", "customer=7") == []  # an object is not a value
    assert ids(shop, "reason", "DECLINED") == ["4"]
    assert ids(shop, "reason", "timeout") == ["5"]
    assert ids(shop, "id", "3") == ["3"]
    assert ids(shop, "id", "nope") == []


def test_id_search_is_one_lookup(shop: Queue, r: redis.Redis) -> None:
    before = r.info("commandstats")
    found = list(search_jobs(shop, "id", "4"))
    after = r.info("commandstats")
    assert len(found) == 1 and found[0].done
    job, state = found[0].jobs[0]
    assert (job.id, state, job.name) == ("4", "failed", "charge")
    assert after["cmdstat_hgetall"]["calls"] - before["cmdstat_hgetall"]["calls"] == 1
    assert after.get("cmdstat_lrange") == before.get("cmdstat_lrange")  # nothing scanned
    assert ids(shop, "id", "4", "completed") == []  # there, but not in that state


def test_state_filter(shop: Queue) -> None:
    assert ids(shop, "data", "customer.id=7", "completed") == ["1"]
    assert ids(shop, "data", "customer.id=7", "failed") == ["4"]
    assert ids(shop, "data", "customer.id=7", "delayed") == ["7"]
    assert ids(shop, "name", "charge", "waiting") == ["6"]
    states = {state for p in search_jobs(shop, "data", "customer", None) for _, state in p.jobs}
    assert states == {"completed", "failed", "waiting", "delayed"}
    last = list(search_jobs(shop, "name", "x", "completed"))[-1]
    assert (last.scanned, last.total, last.done) == (3, 3, True)


def test_queue_methods_sync_and_async(shop: Queue) -> None:
    sync = [j.id for p in shop.search_jobs("reason", "declined", "failed") for j, _ in p.jobs]

    async def collect() -> list[str]:
        return [j.id async for p in shop.asearch_jobs("reason", "declined", "failed")
                for j, _ in p.jobs]

    assert sync == async_to_sync(collect)() == ["4"]


def test_bad_queries_say_what_is_wrong() -> None:
    for args, message in [(("colour", "red"), "Search by one of: id, name, data, reason"),
                          (("name", "  "), "the search text is empty"),
                          (("name", "x", "finished"), "unknown job state 'finished'")]:
        with pytest.raises(InvalidOptionError, match=message):
            make_query(*args)


def test_each_call_looks_at_most_one_chunk(queue: Queue, r: redis.Redis) -> None:
    queue.add_bulk([{"name": "n", "data": {"i": i}} for i in range(50)])
    search = JobSearch(queue, make_query("data", "no such text", "waiting"), chunk=7)
    looked, calls = [], 0
    while not search.done:
        before = r.info("commandstats")["cmdstat_hget"]["calls"]
        progress = queue.connection.run(search.step())
        # every job the script looks at is one HGET inside it: count them in Redis
        looked.append(r.info("commandstats")["cmdstat_hget"]["calls"] - before)
        calls += 1
        assert progress.scanned == sum(looked)
    assert looked == [7] * 7 + [1] and progress.total == 50


def test_each_call_stops_at_the_byte_budget(queue: Queue, r: redis.Redis) -> None:
    queue.add_bulk([{"name": "n", "data": {"blob": "x" * 100_000}} for _ in range(10)])
    search = JobSearch(queue, make_query("data", "y", "waiting"), chunk=1000, budget=150_000)
    steps = []
    while not search.done:
        before = r.info("commandstats")["cmdstat_hget"]["calls"]
        queue.connection.run(search.step())
        steps.append(r.info("commandstats")["cmdstat_hget"]["calls"] - before)
    assert max(steps) <= 2 and sum(steps) == 10  # 100 KB each: two pass 150 KB


def test_sorted_set_cursor_survives_ties_and_new_jobs(queue: Queue, r: redis.Redis) -> None:
    key = queue.keys["completed"]
    for i in range(10):  # six jobs finished in the same millisecond
        r.hset(queue.keys.job(f"c{i}"), mapping={"name": "n", "data": "{}"})
        r.zadd(key, {f"c{i}": 1000 if i < 6 else i})
    search = JobSearch(queue, make_query("name", "n", "completed"), chunk=4)
    found = [j.id for j, _ in queue.connection.run(search.step()).jobs]
    r.hset(queue.keys.job("late"), mapping={"name": "n"})
    r.zadd(key, {"late": 5000})  # finished after the search began: above the cursor
    while not search.done:
        found += [j.id for j, _ in queue.connection.run(search.step()).jobs]
    assert sorted(found) == sorted(f"c{i}" for i in range(10))  # each once, none skipped


def test_stopping_is_stopping_the_iteration(queue: Queue, r: redis.Redis) -> None:
    queue.add_bulk([{"name": "n", "data": {"i": i}} for i in range(100)])
    before = r.info("commandstats")["cmdstat_hget"]["calls"]
    searching = search_jobs(queue, "data", "nothing", "waiting", chunk=10)
    progress = next(searching)
    searching.close()  # the caller stops: no more calls to Redis
    assert progress.scanned == 10 and not progress.done
    assert r.info("commandstats")["cmdstat_hget"]["calls"] - before == 10


# -- the page ----------------------------------------------------------------------


def test_queue_page_has_the_search_box(operator: Client, queue: Queue) -> None:
    page = operator.get(f"/admin/queues/{queue.name}/?state=failed").content.decode()
    assert f'hx-get="/admin/queues/{queue.name}/search/"' in page
    assert '<option value="failed" selected>' in page
    assert f"/admin/queues/{queue.name}/export/?state=failed&amp;format=csv" in page


def test_id_search_answers_at_once(operator: Client, shop: Queue) -> None:
    page = operator.get(f"/admin/queues/{shop.name}/search/",
                        {"kind": "id", "q": "4"}).content.decode()
    assert 'id="job-4"' in page and "Found job 4 (failed)." in page
    assert "ws-connect" not in page
    missing = operator.get(f"/admin/queues/{shop.name}/search/", {"kind": "id", "q": "99"})
    assert "No job with id 99 in all states." in missing.content.decode()


def test_other_searches_hand_over_to_the_socket(viewer: Client, shop: Queue) -> None:
    page = viewer.get(f"/admin/queues/{shop.name}/search/",
                      {"kind": "data", "q": "customer.id=7", "state": "all"}).content.decode()
    assert (f'ws-connect="/ws/queues/{shop.name}/search/?q=customer.id%3D7&amp;kind=data'
            f'&amp;state=all"') in page
    assert "Searching all states…" in page and "Stop" in page


@pytest.mark.parametrize(("params", "message"), [
    ({"kind": "name", "q": ""}, "the search text is empty"),
    ({"kind": "colour", "q": "red"}, "Search by one of"),
    ({"kind": "name", "q": "x", "state": "finished"}, "unknown job state"),
])
def test_bad_search_input_is_refused_clearly(operator: Client, queue: Queue,
                                             params: dict[str, str], message: str) -> None:
    url = f"/admin/queues/{queue.name}/search/"
    plain = operator.get(url, params)
    assert plain.status_code == 400 and message in plain.content.decode()
    htmx = operator.get(url, params, headers={"HX-Request": "true"})
    assert htmx.status_code == 200  # htmx swaps only 2xx: the message must show
    assert message in htmx.content.decode() and "ws-connect" not in htmx.content.decode()


def test_search_needs_the_view_permission(client: Client, staff_without_perms: Client,
                                          queue: Queue, django_user_model: Any) -> None:
    url = f"/admin/queues/{queue.name}/search/?kind=name&q=x"
    assert client.get(url).status_code == 302
    assert staff_without_perms.get(url).status_code == 403

    async def refused(user: Any) -> Any:
        communicator, connected, code = await connect(
            f"/ws/queues/{queue.name}/search/?kind=name&q=x", user)
        await communicator.disconnect()
        return connected, code

    assert async_to_sync(refused)(AnonymousUser()) == (False, 4403)
    assert async_to_sync(refused)(make_user(django_user_model, view=False)) == (False, 4403)


async def read_all(communicator: Any, timeout: float = 10) -> list[str]:
    """Every message until the consumer closes the socket."""
    messages = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return messages
        messages.append(output["text"])
    raise AssertionError("the search socket did not close")


def test_socket_streams_rows_then_says_done(shop: Queue, django_user_model: Any) -> None:
    user = make_user(django_user_model)

    async def scenario() -> list[str]:
        communicator, connected, _ = await connect(
            f"/ws/queues/{shop.name}/search/?kind=data&q=customer.id%3D7&state=all", user)
        assert connected
        return await read_all(communicator)

    messages = async_to_sync(scenario)()
    assert messages[0] == '<tbody id="search-rows" hx-swap-oob="true"></tbody>\n'
    rows = "".join(m for m in messages if 'hx-swap-oob="beforeend:#search-rows"' in m)
    assert 'id="job-1"' in rows and 'id="job-4"' in rows and 'id="job-7"' in rows
    assert 'id="job-2"' not in rows
    assert '<td class="state failed">failed</td>' in rows  # each row says its state
    assert "Done: scanned 7 of 7 jobs · 3 found." in messages[-1]
    assert "Stop" not in messages[-1]


def test_stop_ends_the_search_between_chunks(queue: Queue, django_user_model: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SearchConsumer, "chunk", 10)
    queue.add_bulk([{"name": "n", "data": {"i": i}} for i in range(5000)])
    user = make_user(django_user_model)

    async def scenario() -> list[str]:
        communicator, connected, _ = await connect(
            f"/ws/queues/{queue.name}/search/?kind=data&q=nowhere&state=waiting", user)
        assert connected
        await communicator.receive_from(timeout=5)  # the emptied table
        first = await communicator.receive_from(timeout=5)
        assert "Searching: scanned" in first
        await communicator.send_to(text_data='{"stop": "1", "HEADERS": {}}')
        return [first, *await read_all(communicator)]

    messages = async_to_sync(scenario)()
    final = messages[-1]
    assert "Stopped: scanned " in final and " of 5,000 waiting · 0 found." in final
    scanned = int(final.split("Stopped: scanned ")[1].split(" of")[0].replace(",", ""))
    assert 0 < scanned < 5000


def test_results_stop_at_the_page_limit(queue: Queue, django_user_model: Any,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboard_search, "MAX_RESULTS", 5)
    queue.add_bulk([{"name": "same", "data": {"i": i}} for i in range(30)])
    user = make_user(django_user_model)

    async def scenario() -> list[str]:
        communicator, connected, _ = await connect(
            f"/ws/queues/{queue.name}/search/?kind=name&q=same", user)
        assert connected
        return await read_all(communicator)

    messages = async_to_sync(scenario)()
    assert sum(m.count("<tr ") for m in messages) == 5
    assert "Stopped at the first 5 matches" in messages[-1]


def test_matched_text_is_escaped(operator: Client, queue: Queue, redis_url: str,
                                 run_worker: Any, django_user_model: Any) -> None:
    evil = "<script>alert(1)</script>"
    job = queue.add(f"x{evil}", {"html": f"<img src=x onerror=alert(2)>{evil}"}, attempts=1)

    async def fail(job: Job) -> None:
        raise RuntimeError(f"bad {evil}")

    worker = run_worker(Worker(queue.name, fail, connection=redis_url))
    wait_for(lambda: queue.get_job_counts("failed")["failed"] == 1, 10, what="the failure")
    worker.close(timeout=10)
    page = operator.get(f"/admin/queues/{queue.name}/search/",
                        {"kind": "id", "q": job.id}).content.decode()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    query = operator.get(f"/admin/queues/{queue.name}/search/",
                         {"kind": "data", "q": "<img src=x onerror=alert(2)>"}).content.decode()
    assert "<img src=x" not in query and "&lt;img src=x onerror=alert(2)&gt;" in query
    user = make_user(django_user_model)

    async def scenario() -> list[str]:
        communicator, connected, _ = await connect(
            f"/ws/queues/{queue.name}/search/?kind=reason&q=%3Cscript%3E", user)
        assert connected
        return await read_all(communicator)

    streamed = "".join(async_to_sync(scenario)())
    assert f'id="job-{job.id}"' in streamed and "<script>" not in streamed
    assert "bad &lt;script&gt;alert(1)&lt;/script&gt;" in streamed


def test_progress_text_says_how_far_it_has_looked() -> None:
    one = make_query("data", "x", "completed")
    progress = SearchProgress([], "completed", 120_000, 1_000_000, 3, done=False)
    assert dashboard_search.progress_text(progress, one) == (
        "Searching: scanned 120,000 of 1,000,000 completed · 3 found…")
    every = make_query("data", "x")
    assert dashboard_search.progress_text(progress, every) == (
        "Searching: scanned 120,000 of 1,000,000 jobs (now in completed) · 3 found…")
    assert dashboard_search.progress_text(progress, every, stopped=True) == (
        "Stopped: scanned 120,000 of 1,000,000 jobs · 3 found.")
