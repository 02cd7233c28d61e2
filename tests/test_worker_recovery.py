"""A worker against Redis that is down at start, restarted under it, or cuts
a reply; and job hashes with bytes that are not UTF-8. Real servers of the
test's own (``own_server``), so the session server is untouched."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import redis

from queuecore import (
    ConnectionFailedError,
    Job,
    Queue,
    QueueCoreError,
    RateLimitError,
    lua_loader,
)
from queuecore.embedded import EmbeddedRedis

from .helpers import Recorder, running_worker, wait_for
from .proxy import CutProxy


def test_worker_started_while_redis_is_down_waits_for_it(
        own_server: EmbeddedRedis, queue_name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="queuecore.worker")
    queue = Queue(queue_name, connection=own_server.url)
    try:
        job = queue.add("before", {"n": 1})
        own_server.stop()
        with running_worker(queue_name, lambda j: j.data["n"] * 2, own_server.url,
                            drain_delay=0.5) as worker:
            rec = Recorder(worker, "completed", "error")
            wait_for(lambda: len(rec["error"]) >= 2, 10, what="the worker retrying")
            assert worker._thread is not None and worker._thread.is_alive(), \
                "the worker died instead of waiting for Redis"
            errors = [args[0] for args in rec["error"]]
            assert all(isinstance(e, ConnectionFailedError | redis.RedisError | OSError)
                       for e in errors), errors
            # it backs off: a few tries in a second, not a busy loop
            time.sleep(1.0)
            assert len(rec["error"]) < 12, len(rec["error"])
            own_server.start()
            wait_for(lambda: rec["completed"], 15, what="the job completed once Redis is up")
        assert [args[1] for args in rec["completed"]] == [2]
        assert queue.get_job(job.id).returnvalue == 2  # type: ignore[union-attr]
        assert any("Redis error" in m and queue_name in m for m in caplog.messages), \
            caplog.messages
    finally:
        queue.close()


def test_errors_a_worker_reports_are_queuecore_errors(own_server: EmbeddedRedis,
                                                      queue_name: str) -> None:
    """Redis restarted under an idle worker (blocked on the marker) and a busy
    one: every error it reports is a queuecore error carrying redis-py's as
    its cause, as for any other call."""
    queue = Queue(queue_name, connection=own_server.url)

    def slow(job: Job) -> int:
        time.sleep(0.3)
        return 1

    try:
        with running_worker(queue_name, slow, own_server.url, drain_delay=5) as worker:
            rec = Recorder(worker, "error", "completed")
            time.sleep(0.3)  # blocked in BZPOPMIN
            own_server.stop()
            wait_for(lambda: rec["error"], 10, what="the worker reporting Redis gone")
            own_server.start()
            queue.add("after")
            wait_for(lambda: rec["completed"], 15, what="the job after the restart")
        errors = [args[0] for args in rec["error"]]
        assert errors and all(isinstance(e, QueueCoreError) for e in errors), errors
        assert all(e.__cause__ is not None for e in errors), errors
    finally:
        queue.close()


def test_worker_closed_while_waiting_for_redis_stops(own_server: EmbeddedRedis,
                                                     queue_name: str) -> None:
    own_server.stop()
    with running_worker(queue_name, lambda j: None, own_server.url, close_timeout=5) as worker:
        rec = Recorder(worker, "error", "closed")
        wait_for(lambda: rec["error"], 10, what="the worker retrying")
    assert rec["closed"] == [()]


# -- job hashes with bytes that are not UTF-8 ------------------------------------------------

NOT_UTF8: dict[str, dict[bytes, bytes]] = {
    "data": {b"name": b"n", b"data": b'{"text": "caf\xe9"}', b"opts": b"{}"},
    "name": {b"name": b"r\xe9sum\xe9", b"data": b"{}", b"opts": b"{}"},
    "opts": {b"name": b"n", b"data": b"{}", b"opts": b'{"attempts": 3, "x": "\xff"}'},
}


@pytest.mark.parametrize("field", list(NOT_UTF8))
@pytest.mark.parametrize("kind", ["async", "sync"])
def test_job_hash_not_utf8_fails_that_job_only(redis_url: str, queue: Queue, queue_name: str,
                                               field: str, kind: str) -> None:
    raw = redis.Redis.from_url(redis_url)  # bytes in, bytes out
    good = [queue.add("good", {"i": i}) for i in range(2)]
    raw.hset(f"bull:{queue_name}:bad".encode(), mapping=NOT_UTF8[field])
    raw.lpush(f"bull:{queue_name}:wait".encode(), b"bad")
    good += [queue.add("good", {"i": i}) for i in range(2, 4)]
    ran: list[str] = []

    async def aprocess(job: Job) -> int:
        ran.append(job.id)
        return job.data["i"]

    def process(job: Job) -> int:
        ran.append(job.id)
        return job.data["i"]

    with running_worker(queue_name, aprocess if kind == "async" else process, redis_url,
                        concurrency=5, drain_delay=0.5) as worker:
        rec = Recorder(worker, "completed", "failed", "error")
        wait_for(lambda: len(rec["completed"]) + len(rec["failed"]) >= 5, 10,
                 what="every job finished")
    assert rec["error"] == []
    assert sorted(ran) == sorted(j.id for j in good)  # the bad one was not run
    assert [args[0].id for args in rec["failed"]] == ["bad"]
    assert queue.get_job_counts() == {"active": 0, "completed": 4, "delayed": 0, "failed": 1,
                                      "prioritized": 0, "waiting": 0, "waiting-children": 0}
    bad = queue.get_job("bad")
    assert bad is not None and bad.failed_reason is not None
    assert bad.failed_reason.startswith(f"job bad is not valid UTF-8 in {field!r}"), \
        bad.failed_reason
    assert bad.attempts_made == 1
    # its bytes are as they were
    assert raw.hget(f"bull:{queue_name}:bad".encode(), field.encode()) == \
        NOT_UTF8[field][field.encode()]
    for job in good:
        assert queue.get_job(job.id).returnvalue == job.data["i"]  # type: ignore[union-attr]
    raw.close()


def test_stored_trace_not_utf8_goes_back_as_it_was(redis_url: str, queue: Queue,
                                                   queue_name: str) -> None:
    """Bytes outside the job's input (an earlier attempt's trace) do not stop
    it: it runs, and what the worker writes back keeps those bytes."""
    raw = redis.Redis.from_url(redis_url)
    raw.hset(f"bull:{queue_name}:old".encode(), mapping={
        b"name": b"n", b"data": b"{}", b"opts": b'{"attempts": 2}', b"atm": b"0",
        b"stacktrace": b'["trace \xff"]'})
    raw.lpush(f"bull:{queue_name}:wait".encode(), b"old")

    def process(job: Job) -> None:
        raise RuntimeError(f"attempt {job.attempts_made + 1}")

    with running_worker(queue_name, process, redis_url, drain_delay=0.5) as worker:
        rec = Recorder(worker, "failed", "error")
        wait_for(lambda: len(rec["failed"]) >= 2, 10, what="two failed attempts")
    assert rec["error"] == []
    stack = raw.hget(f"bull:{queue_name}:old".encode(), b"stacktrace")
    assert stack is not None and stack.startswith(b'["trace \xff",'), stack
    assert raw.hget(f"bull:{queue_name}:old".encode(), b"failedReason") == b"attempt 2"
    raw.close()


# -- a reply lost after the script ran ---------------------------------------------------


def _events_of(r: redis.Redis, queue_name: str, job_id: str) -> list[str]:
    return [f["event"] for _id, f in r.xrange(f"bull:{queue_name}:events", "-", "+")
            if f.get("jobId") == job_id]


@pytest.mark.parametrize("outcome", ["completed", "failed", "retried", "given-back", "fetch"])
def test_reply_lost_after_the_script_ran(redis_url: str, queue: Queue, queue_name: str,
                                         r: redis.Redis, outcome: str) -> None:
    """The connection is cut after move_to_finished (or move_to_active) ran in
    Redis and before its reply arrived. The worker knows its own finished jobs
    (no "missing lock" error, the right event, nothing applied twice) and
    takes over the jobs that the lost reply fetched for it, long before their
    locks would expire."""
    script = "move_to_active" if outcome == "fetch" else "move_to_finished"
    needle = lua_loader.load(script).sha.encode()
    given_back: list[str] = []

    def process(job: Job) -> str:
        if outcome == "given-back" and job.name == "a" and not given_back:
            given_back.append(job.id)
            raise RateLimitError()  # back to wait, no attempt counted
        if job.name == "a" and (outcome == "failed"
                                or (outcome == "retried" and job.attempts_made == 0)):
            raise RuntimeError(f"attempt {job.attempts_made + 1} of a")
        return job.name

    with CutProxy(int(redis_url.rsplit(":", 1)[1])) as proxy, \
            running_worker(queue_name, process, proxy.url, lock_duration=20_000,
                           drain_delay=0.5) as worker:
        rec = Recorder(worker, "completed", "failed", "error")
        queue.add("warm", {})  # every script is loaded: the armed one is an EVALSHA
        wait_for(lambda: rec["completed"], 10, what="the warm-up job")
        proxy.cut_after(needle)
        names = ["a"] if outcome in ("retried", "given-back", "fetch") else ["a", "b"]
        jobs = queue.add_bulk([{"name": n, "data": {}, "opts": {"attempts": 2}
                                if outcome == "retried" else {}} for n in names])
        started = time.monotonic()
        finals = 1 + len(jobs)
        wait_for(lambda: len(rec["completed"]) + len(
            [f for f in rec["failed"] if f[0].attempts_made >= f[0].attempts]) >= finals,
            10, what="every job finished")
        took = time.monotonic() - started
    assert proxy.cuts == 1
    assert took < 5, took  # not after the locks expired (20 s)
    assert all(isinstance(args[0], ConnectionFailedError) for args in rec["error"]), \
        rec["error"]
    a = queue.get_job(jobs[0].id)
    assert a is not None
    if outcome == "failed":
        assert [args[0].id for args in rec["failed"]] == [a.id]
        assert a.get_state() == "failed" and a.attempts_made == 1
        assert _events_of(r, queue_name, a.id).count("failed") == 1
    else:
        assert a.get_state() == "completed" and a.returnvalue == "a"
        assert a.attempts_made == (2 if outcome == "retried" else 1)
        assert _events_of(r, queue_name, a.id).count("completed") == 1
        assert [args[0].id for args in rec["failed"]] == ([a.id] if outcome == "retried" else [])
    assert sorted(args[0].id for args in rec["completed"]) == sorted(
        j.id for j in queue.get_jobs("completed"))
    assert queue.get_job_counts("active", "waiting", "delayed") == {
        "active": 0, "waiting": 0, "delayed": 0}


def test_lock_renewal_out_while_the_job_finishes_reports_no_lost_lock(
        redis_url: str, queue: Queue, queue_name: str, r: redis.Redis) -> None:
    """After a restart the script cache is empty: a lock renewal's EVALSHA
    gets NOSCRIPT and its EVAL goes out after the finish of a job that
    another client's EVAL had loaded. The renewal then finds that job's lock
    gone: it finished, its lock was not lost."""
    go = threading.Event()

    def process(job: Job) -> str:
        go.wait(10)
        return "done"

    renew = lua_loader.load("extend_locks")
    finish = lua_loader.load("move_to_finished")
    with CutProxy(int(redis_url.rsplit(":", 1)[1])) as proxy, \
            running_worker(queue_name, process, proxy.url, lock_duration=1000,
                           drain_delay=0.5) as worker:
        rec = Recorder(worker, "completed", "error")
        job = queue.add("a", {})
        wait_for(lambda: job.get_state() == "active", 10, what="the job active")
        time.sleep(0.5)  # the first renewals went through with the script loaded
        r.script_flush()
        r.script_load(finish.source)  # as another worker's EVAL would
        proxy.hold_between(renew.sha.encode(), finish.sha.encode())
        assert proxy.holding.wait(5), "no lock renewal was sent"
        go.set()
        wait_for(lambda: rec["completed"], 10, what="the job completed")
        time.sleep(0.3)  # the renewal's reply has come back
    assert job.get_state() == "completed"
    assert rec["error"] == []


def test_jobs_of_a_lost_fetch_go_back_to_wait_when_the_worker_closes(
        redis_url: str, queue: Queue, queue_name: str, r: redis.Redis) -> None:
    needle = lua_loader.load("move_to_active").sha.encode()
    with CutProxy(int(redis_url.rsplit(":", 1)[1])) as proxy, \
            running_worker(queue_name, lambda job: job.name, proxy.url, lock_duration=20_000,
                           drain_delay=0.5) as worker:
        rec = Recorder(worker, "completed", "error", "closed")
        queue.add("warm", {})
        wait_for(lambda: rec["completed"], 10, what="the warm-up job")
        proxy.cut_after(needle)
        job = queue.add("a", {})
        assert proxy.cutting.wait(10), "no fetch went out"
        worker.close(timeout=10)  # while the fetch's reply is being lost
    assert rec["closed"] == [()]
    assert [args[0].id for args in rec["completed"]] != [job.id]
    assert job.get_state() == "waiting"
    assert not r.exists(f"bull:{queue_name}:{job.id}:lock")
    assert _events_of(r, queue_name, job.id)[-2:] == ["active", "waiting"]


def test_job_id_not_utf8_runs_and_keeps_its_bytes(redis_url: str, queue: Queue,
                                                 queue_name: str) -> None:
    """An id is no input of the processor: the job runs, its lock is renewed
    and it completes under the same bytes."""
    raw = redis.Redis.from_url(redis_url)
    prefix = f"bull:{queue_name}:".encode()
    raw.hset(prefix + b"id\xff", mapping={b"name": b"n", b"data": b"{}", b"opts": b"{}"})
    raw.lpush(prefix + b"wait", b"id\xff")

    def process(job: Job) -> str:
        time.sleep(0.8)  # a few lock renewals (every 250 ms) carry the id
        return "ok"

    with running_worker(queue_name, process, redis_url, lock_duration=1000,
                        drain_delay=0.5) as worker:
        rec = Recorder(worker, "completed", "error")
        wait_for(lambda: rec["completed"], 10, what="the job completed")
    assert rec["error"] == []
    assert raw.zrange(prefix + b"completed", 0, -1) == [b"id\xff"]
    assert raw.hget(prefix + b"id\xff", b"returnvalue") == b'"ok"'
    assert not raw.exists(prefix + b"id\xff:lock")
    raw.close()
