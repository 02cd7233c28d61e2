"""The engine's read side (queuecore/reads.py, overview.py, clients.py): what a
dashboard or a tool shows, read through public API, sync and async alike,
and never failing on what another client wrote."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from queuecore import (
    Connection,
    FlowProducer,
    Overview,
    Queue,
    QueueSummary,
    WorkerInfo,
    WrongTypeError,
    discovery,
)
from queuecore.clients import worker_client_name
from queuecore.keys import EXISTENCE_SUFFIXES, SUFFIXES

TEXT = "surrogateescape"


@pytest.fixture
def prefix(raw_redis: redis.Redis) -> Iterator[str]:
    """A prefix of the test's own, emptied afterwards."""
    name = f"rs{uuid.uuid4().hex[:8]}"
    yield name
    keys = list(raw_redis.scan_iter(match=f"{name}:*".encode(), count=1000))
    if keys:
        raw_redis.delete(*keys)


def named_client(redis_url: str, name: str) -> redis.Redis:
    client = redis.Redis.from_url(redis_url, client_name=name)
    client.ping()  # connect, so CLIENT LIST shows it
    return client


# -- summaries, existence, discovery ---------------------------------------------------


def test_summaries_of_many_queues_in_one_call(redis_url: str, prefix: str,
                                              r: redis.Redis) -> None:
    a = Queue("a", redis_url, prefix=prefix)
    b = Queue("b", redis_url, prefix=prefix)
    a.add("w")
    a.add("w")
    a.add("p", priority=2)
    a.add("d", delay=60_000)
    b.add("w")
    b.pause()
    now = int(time.time() * 1000)
    r.zadd(a.keys["completed"], {"old": now - 3_600_000, "new": now - 1000})
    r.zadd(a.keys["failed"], {"f": now - 2000})
    worker = named_client(redis_url, worker_client_name(prefix, "a", "host1:42:5"))
    try:
        overview = Overview(redis_url, prefix)
        first, second = overview.summaries(["a", "b"])
        assert isinstance(first, QueueSummary) and first.name == "a"
        assert first.counts == {"waiting": 2, "active": 0, "waiting-children": 0,
                                "prioritized": 1, "delayed": 1, "completed": 2, "failed": 1,
                                "paused": 0}
        assert (first.paused, first.workers) == (False, 1)
        assert (first.completed_recent, first.failed_recent) == (1, 1)
        assert first.throughput_per_min == 0.2 and first.broken_keys == []
        assert second.paused is True and second.workers == 0
        assert second.waiting_without_workers
        assert a.get_summary() == first
        assert asyncio.run(overview.asummaries(["a", "b"])) == [first, second]
    finally:
        worker.close()


def test_a_queue_with_broken_keys_says_which_and_hides_no_other(redis_url: str, prefix: str,
                                                                r: redis.Redis) -> None:
    good, bad = Queue("good", redis_url, prefix=prefix), Queue("bad", redis_url, prefix=prefix)
    good.add("j")
    bad.add("j")
    for suffix in ("wait", "failed", "meta"):
        r.delete(bad.keys[suffix])
        r.set(bad.keys[suffix], "not BullMQ's")
    broken, fine = Overview(redis_url, prefix).summaries(["bad", "good"])
    assert broken.broken_keys == ["failed", "meta", "wait"]
    assert broken.counts["waiting"] == 0 and broken.counts["failed"] == 0
    assert fine.counts["waiting"] == 1 and fine.broken_keys == []


def test_exists_and_discovery_share_one_rule(redis_url: str, prefix: str,
                                             r: redis.Redis) -> None:
    overview = Overview(redis_url, prefix)
    queue = Queue("q", redis_url, prefix=prefix)
    assert not queue.exists() and not asyncio.run(queue.aexists())
    r.rpush(queue.keys["wait"], "1")  # a state key alone is no queue
    r.set(Queue("counter-only", redis_url, prefix=prefix).keys["id"], "3")
    discovery.forget_discovered()
    assert overview.discover() == ["counter-only"] and not queue.exists()
    queue.add("j")
    discovery.forget_discovered()
    assert queue.exists() and overview.discover() == ["counter-only", "q"]
    assert asyncio.run(overview.adiscover()) == ["counter-only", "q"]
    queue.obliterate(force=True)
    assert not queue.exists()


@settings(max_examples=30)
@given(present=st.sets(st.sampled_from(SUFFIXES)),
       name=st.binary(min_size=1, max_size=6).filter(lambda b: b":" not in b))
def test_exists_is_discovery_for_any_keys(redis_url: str, raw_redis: redis.Redis,
                                          present: set[str], name: bytes) -> None:
    prefix = f"rx{uuid.uuid4().hex[:8]}"
    base = f"{prefix}:".encode() + name + b":"
    conn = Connection(redis_url)
    try:
        for suffix in present:
            raw_redis.set(base + suffix.encode(), "x")
        text = name.decode("utf-8", TEXT)
        queue = Queue(text, conn, prefix=prefix)
        discovery.forget_discovered()
        found = Overview(conn, prefix).discover()
        assert queue.exists() == (text in found) == bool(present & set(EXISTENCE_SUFFIXES))
    finally:
        conn.close()
        raw_redis.delete(*(base + s.encode() for s in SUFFIXES))


# -- many jobs at once ---------------------------------------------------------------------


def test_states_of_many_jobs_in_one_call(queue: Queue, r: redis.Redis) -> None:
    waiting, delayed = queue.add("w"), queue.add("d", delay=60_000)
    prioritized = queue.add("p", priority=1)
    r.zadd(queue.keys["completed"], {"c": 1})
    r.zadd(queue.keys["failed"], {"f": 1})
    r.lpush(queue.keys["active"], "a")
    r.zadd(queue.keys["waiting-children"], {"wc": 1})
    expected = {waiting.id: "waiting", delayed.id: "delayed", prioritized.id: "prioritized",
                "c": "completed", "f": "failed", "a": "active", "wc": "waiting-children",
                "nope": "unknown"}
    assert queue.get_states(list(expected)) == expected
    assert asyncio.run(queue.aget_states(list(expected))) == expected
    assert all(queue.get_job(i) is None or queue.get_job(i).get_state() == s  # type: ignore
               for i, s in expected.items())
    r.delete(queue.keys["failed"])
    r.set(queue.keys["failed"], "not a sorted set")  # probing it is refused: unknown
    assert queue.get_states(["f", waiting.id]) == {"f": "unknown", waiting.id: "waiting"}
    assert queue.get_states([]) == {}
    r.delete(queue.keys["failed"])


def test_jobs_by_id_with_chosen_fields(queue: Queue) -> None:
    job = queue.add("j", {"big": "x" * 1000}, lifo=True)
    full, light, gone = queue.get_jobs_by_id([job.id, job.id, "nope"])[0], \
        *queue.get_jobs_by_id([job.id, "nope"], fields=("opts",))
    assert full is not None and full.data == {"big": "x" * 1000}
    assert light is not None and light.opts.get("lifo") is True and "data" not in light.raw
    assert gone is None


# -- flows, schedulers, failures -------------------------------------------------------------


def test_job_tree_children_with_status_and_ancestors(redis_url: str, queue: Queue,
                                                     r: redis.Redis) -> None:
    flow = FlowProducer(redis_url)
    tree = flow.add({"name": "root", "queue_name": queue.name, "children": [
        {"name": "mid", "queue_name": queue.name, "children": [
            {"name": "leaf", "queue_name": queue.name}]},
        {"name": "other", "queue_name": queue.name}]})
    root, (mid, other) = tree.job, tree.children
    leaf = mid.children[0].job
    r.hset(root.key + ":processed", other.job.key, "1")  # as if finished
    r.srem(root.key + ":dependencies", other.job.key)
    found = queue.get_job_tree(root.id)
    assert found.ancestors == [] and found.more == 0
    assert {(n.job_id, n.status) for n in found.children} == {(mid.job.id, "pending"),
                                                              (other.job.id, "processed")}
    middle = next(n for n in found.children if n.job_id == mid.job.id)
    assert [(n.job_id, n.queue) for n in middle.children] == [(leaf.id, queue.name)]
    up = queue.get_job_tree(leaf.id)
    assert [(n.job_id, n.status) for n in up.ancestors] == [(mid.job.id, "parent"),
                                                            (root.id, "parent")]
    assert asyncio.run(queue.aget_job_tree(leaf.id)) == up
    capped = queue.get_job_tree(root.id, depth=1, max_children=1)
    assert len(capped.children) == 1 and capped.more == 1 and capped.children[0].children == []
    r.delete(root.key + ":dependencies")
    r.set(root.key + ":dependencies", "not a set")  # read as empty, the rest as ever
    assert [n.status for n in queue.get_job_tree(root.id).children] == ["processed"]
    r.delete(root.key + ":dependencies")
    flow.close()


def test_scheduler_runs_with_their_iterations_states(queue: Queue, r: redis.Redis) -> None:
    queue.upsert_job_scheduler("tick", {"every": 60_000}, {"name": "t"})
    (run,) = queue.get_scheduler_runs()
    assert run.scheduler.id == "tick"
    assert run.next_job_id == f"repeat:tick:{run.scheduler.next}"
    pending = queue.get_job(run.next_job_id)
    assert pending is not None and run.next_state == pending.get_state() != "unknown"
    assert run.last_job_id is None and run.last_state is None
    r.hset(queue.keys["repeat:tick"], "ic", 2)  # a second iteration: the first ran
    (run,) = queue.get_scheduler_runs()
    assert run.last_run_at == run.scheduler.next - 60_000  # type: ignore[operator]
    assert run.last_state is None  # its job is gone (never written here)
    r.zadd(queue.keys["completed"], {run.last_job_id: 1})  # type: ignore[dict-item]
    assert queue.get_scheduler_runs()[0].last_state == "completed"


def test_failure_summaries(queue: Queue, r: redis.Redis) -> None:
    for i, frame in enumerate(('  File "app.py", line 3, in pay', "    at charge (/srv/p.js:1:2)")):
        r.hset(queue.keys.job(f"f{i}"), mapping={
            "name": "pay", "failedReason": f"card {i} declined" + "!" * 2000,
            "finishedOn": 1000 + i, "timestamp": 10, "data": json.dumps({"huge": "x" * 9999}),
            "stacktrace": json.dumps([f"Error\n{frame}"])})
        r.zadd(queue.keys["failed"], {f"f{i}": 1000 + i})
    newest, oldest = queue.get_failure_summaries(reason_bytes=20)
    assert (newest["id"], oldest["id"]) == ("f1", "f0")
    assert newest["failed_reason"] == "card 1 declined" + "!" * 5
    assert newest["top_frame"] == "charge (/srv/p.js:1:2)" and "app.py" in oldest["top_frame"]
    assert "huge" not in json.dumps(newest)
    r.zrem(queue.keys["failed"], "f0")
    (by_id,) = queue.get_failure_summaries(job_ids=["f0", "gone"])
    assert by_id["id"] == "f0" and by_id["in_failed"] == "0"
    assert asyncio.run(queue.aget_failure_summaries(0, 0)) == queue.get_failure_summaries(0, 0)


# -- activity (metrics decoded once) ------------------------------------------------------------


def test_activity_from_metrics_and_from_finished_sets(queue: Queue, r: redis.Redis) -> None:
    now = int(time.time() * 1000)
    minute = now // 60_000 * 60_000
    r.hset(queue.keys.job("c"), mapping={"timestamp": minute, "delay": 0,
                                         "processedOn": minute + 100, "finishedOn": minute + 130})
    r.zadd(queue.keys["completed"], {"c": minute + 130})
    seen = queue.get_activity(now)
    assert seen.source == "finished jobs" and seen.completed[-1] == 1 and len(seen.failed) == 60
    assert (seen.waits, seen.runs) == ([100], [30])
    r.hset(queue.keys.metrics("completed"), mapping={"count": 57, "prevTS": now - 120_000,
                                                     "prevCount": 50})
    r.rpush(queue.keys.metrics("completed") + ":data", 11, "²", 22)
    r.hset(queue.keys.metrics("failed"), mapping={"count": "1e999", "prevTS": "x"})
    seen = asyncio.run(queue.aget_activity(now, minutes=10))
    assert seen.source == "metrics" and len(seen.completed) == 10
    assert seen.completed[-3:] == [7, 0, 0] and seen.completed[-6:-3] == [22, 0, 11]
    assert seen.failed == [0] * 10  # no usable prevTS: nothing placed
    assert queue.get_metrics("completed")["data"] == [11, 0, 22]  # the same decoding
    r.delete(queue.keys["completed"])
    r.set(queue.keys["completed"], "x")
    with pytest.raises(WrongTypeError):
        queue.get_activity(now)
    r.delete(queue.keys["completed"])


# -- workers and the server ------------------------------------------------------------------


def test_workers_of_each_library_from_one_client_list(redis_url: str, prefix: str) -> None:
    clients = [named_client(redis_url, worker_client_name(prefix, "q", "box:7:3")),
               named_client(redis_url, worker_client_name(prefix, "q", "node-worker")),
               named_client(redis_url, f"{prefix}:q:w:py-worker"),
               named_client(redis_url, worker_client_name(prefix, "other"))]
    try:
        overview = Overview(redis_url, prefix)
        found = overview.workers(["q", "absent"])
        assert found is not None and found["absent"] == []
        rows = found["q"]
        assert all(isinstance(w, WorkerInfo) for w in rows)
        by_name = {w.name: w for w in rows}
        assert set(by_name) == {"box:7:3", "node-worker", "py-worker"}
        assert (by_name["box:7:3"].library, by_name["box:7:3"].host, by_name["box:7:3"].pid,
                by_name["box:7:3"].concurrency) == ("queuecore", "box", 7, 3)
        assert by_name["py-worker"].library == "Python bullmq"
        assert by_name["node-worker"].library == "Node BullMQ or queuecore"
        assert all(w.started_at and w.last_seen for w in rows)
        assert asyncio.run(overview.aworkers(["q"])) is not None
        listed = Queue("q", redis_url, prefix=prefix).get_workers()
        assert sorted(w["rawname"] for w in listed) == sorted(w.client_name for w in rows)
        assert next(w for w in listed if w.get("pid") == 7)["concurrency"] == 3
    finally:
        for client in clients:
            client.close()


def test_summaries_and_workers_from_one_client_list(redis_url: str, prefix: str) -> None:
    worker = named_client(redis_url, worker_client_name(prefix, "q", "box:7:3"))
    try:
        overview = Overview(redis_url, prefix)
        summaries, found = overview.summaries_and_workers(["q", "absent"])
        assert found is not None and [w.name for w in found["q"]] == ["box:7:3"]
        assert found["absent"] == []
        assert [(s.name, s.workers) for s in summaries] == [("q", 1), ("absent", 0)]
        assert summaries == overview.summaries(["q", "absent"])
        summaries, found = asyncio.run(overview.asummaries_and_workers(["q"]))
        assert found is not None and summaries[0].workers == len(found["q"]) == 1
    finally:
        worker.close()


def test_server_info(redis_url: str) -> None:
    info = Overview(redis_url).server_info()
    assert info.server in ("Redis", "Valkey") and info.version
    assert info.maxmemory_policy and int(info.clients) >= 1
    assert asyncio.run(Overview(redis_url).aserver_info()).version == info.version


# -- foreign data: never an error that hides the rest ----------------------------------------

STATE_KEYS = ("wait", "active", "paused", "prioritized", "delayed", "completed", "failed",
              "waiting-children")
ODD_NUMBERS = [b"1e309", b"-1e309", b"NaN", b"inf", b"-5", b"9" * 40, "²".encode(), b"",
               b"\xff\xfe", b"1.5", b"-0"]
names = st.binary(min_size=1, max_size=8).filter(lambda b: b":" not in b)
ids = st.one_of(st.binary(max_size=8), st.sampled_from([b"1", b"repeat:s:1", b"a/b"]))


@settings(max_examples=40)
@given(name=names, wrong=st.sets(st.sampled_from((*STATE_KEYS, "meta", "metrics:completed",
                                                               "metrics:completed:data"))),
       members=st.lists(st.tuples(ids, st.sampled_from(STATE_KEYS)), max_size=6),
       scores=st.lists(st.sampled_from(ODD_NUMBERS), max_size=4),
       children=st.lists(ids, max_size=3))
def test_foreign_queues_are_read_without_errors(redis_url: str, raw_redis: redis.Redis,
                                                name: bytes, wrong: set[str],
                                                members: list[tuple[bytes, str]],
                                                scores: list[bytes],
                                                children: list[bytes]) -> None:
    prefix = f"rf{uuid.uuid4().hex[:8]}"
    base = prefix.encode() + b":" + name + b":"
    conn = Connection(redis_url)
    good = Queue("good", conn, prefix=prefix)
    try:
        good.add("fine")
        raw_redis.hset(base + b"meta", "opts.maxLenEvents", "10000")
        for job_id, where in members:
            if where in ("wait", "active", "paused"):
                raw_redis.lpush(base + where.encode(), job_id)
            else:
                raw_redis.zadd(base + where.encode(), {job_id: 1})
            raw_redis.hset(base + job_id, mapping={"timestamp": scores[0] if scores else b"1",
                                                   "parentKey": base + b"p"})
        if children and members:
            raw_redis.sadd(base + members[0][0] + b":dependencies", *(base + c for c in children))
        raw_redis.hset(base + b"metrics:failed", mapping={
            "count": scores[0] if scores else b"1", "prevTS": scores[-1] if scores else b"x"})
        if scores:
            raw_redis.rpush(base + b"metrics:failed:data", *scores)
        for suffix in wrong:
            raw_redis.delete(base + suffix.encode())
            raw_redis.set(base + suffix.encode(), b"\xff not BullMQ's")
        text = name.decode("utf-8", TEXT)
        queue = Queue(text, conn, prefix=prefix)
        foreign, fine = Overview(conn, prefix).summaries([text, "good"])
        assert fine.counts["waiting"] == 1 and fine.broken_keys == []
        assert set(foreign.broken_keys) == wrong & {*STATE_KEYS, "meta"}
        assert all(isinstance(c, int) and c >= 0 for c in foreign.counts.values())
        job_ids = [i.decode("utf-8", TEXT) for i, _ in members]
        found = queue.get_states(job_ids)
        for (raw_id, where), job_id in zip(members, job_ids, strict=True):
            if where not in wrong and found[job_id] == "unknown":
                pytest.fail(f"{raw_id!r} in {where} read as unknown")
        for job_id in job_ids[:2]:
            tree = queue.get_job_tree(job_id)
            assert all(n.queue in (text, None) for n in tree.children)
        assert queue.get_jobs_by_id(job_ids, fields=("timestamp",)) is not None
        try:
            seen = queue.get_activity()
        except WrongTypeError:  # said only of a key it reads
            assert wrong & {"completed", "failed", "metrics:completed", "metrics:completed:data"}
        else:
            assert all(v >= 0 for v in seen.completed + seen.failed)
        assert queue.get_scheduler_runs() == []
    finally:
        conn.close()
        keys = list(raw_redis.scan_iter(match=f"{prefix}:*".encode(), count=1000))
        if keys:
            raw_redis.delete(*keys)


def test_a_tolerant_pipeline_gives_each_refusal_in_its_place(redis_url: str, queue: Queue,
                                                            r: redis.Redis) -> None:
    from queuecore.driver import Call, Pipeline

    r.set(queue.keys["failed"], "a string")
    queue.add("j")
    calls = [Call(("LLEN", queue.keys["wait"])), Call(("ZCARD", queue.keys["failed"]))]

    def op():  # type: ignore[no-untyped-def]
        return (yield Pipeline(calls, tolerant=True))

    for replies in (queue.connection.run(op()), asyncio.run(queue.connection.arun(op()))):
        assert replies[0] == 1 and isinstance(replies[1], WrongTypeError)
        assert "WRONGTYPE" in str(replies[1])
    with pytest.raises(WrongTypeError):  # without it, the first refusal raises
        queue.connection.execute_many(calls)
    r.delete(queue.keys["failed"])
