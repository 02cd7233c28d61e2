"""Faults with real processes and servers: Redis down or restarted, a worker
killed mid-job, closing with active jobs, malformed job hashes, and
processors that return or raise the wrong thing."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.exceptions import RedisError

from queuecore import (
    ConnectionFailedError,
    Job,
    JobFailedError,
    Queue,
    SerializationError,
    Worker,
)
from queuecore.embedded import EmbeddedRedis, is_running

from .helpers import Recorder, WorkerProcess, running_worker, wait_for


def stream(r: redis.Redis, queue_name: str, prefix: str = "bull") -> list[dict[str, str]]:
    return [fields for _id, fields in r.xrange(f"{prefix}:{queue_name}:events", "-", "+")]


# -- 1. Redis down at add ------------------------------------------------------------------


def test_add_while_redis_is_down_raises(own_server: EmbeddedRedis, queue_name: str) -> None:
    queue = Queue(queue_name, connection=own_server.url)
    try:
        before = queue.add("before", {"n": 1})
        own_server.stop()

        started = time.monotonic()
        with pytest.raises(ConnectionFailedError, match="unreachable") as raised:
            queue.add("during", {"n": 2})
        assert isinstance(raised.value, ConnectionError)
        with pytest.raises(ConnectionFailedError):
            queue.add_bulk([{"name": "bulk-during", "data": {"i": i}} for i in range(3)])
        with pytest.raises(ConnectionFailedError):
            queue.get_job_counts()

        async def add_async() -> None:
            try:
                await queue.aadd("async-during", {"n": 3})
            finally:
                await queue.aclose()

        with pytest.raises(ConnectionFailedError):
            asyncio.run(add_async())
        assert time.monotonic() - started < 20  # refused quickly, not hanging

        own_server.start()
        after = queue.add("after", {"n": 4})
        # the refused adds left nothing behind, and the accepted one survived
        assert after.id == str(int(before.id) + 1)
        waiting = queue.get_jobs("waiting", asc=True)
        assert [(j.id, j.name, j.data) for j in waiting] == [
            (before.id, "before", {"n": 1}), (after.id, "after", {"n": 4})]
        assert queue.get_job_counts("waiting", "delayed", "prioritized") == {
            "waiting": 2, "delayed": 0, "prioritized": 0}
    finally:
        queue.close()


# -- 2. Redis restarted under a running worker --------------------------------------------


def test_worker_survives_redis_restart(own_server: EmbeddedRedis, queue_name: str,
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="queuecore.worker")
    queue = Queue(queue_name, connection=own_server.url)
    accepted: list[str] = []
    refused = 0

    def process(job: Job) -> int:
        time.sleep(0.05)
        return job.data["i"]

    try:
        with running_worker(queue_name, process, own_server.url, concurrency=2,
                            lock_duration=15_000, stalled_interval=5_000,
                            drain_delay=0.5) as worker:
            rec = Recorder(worker, "completed", "failed", "error")
            accepted += [j.id for j in queue.add_bulk(
                [{"name": "before", "data": {"i": i}} for i in range(40)])]
            wait_for(lambda: len(rec["completed"]) >= 6, 15, what="some jobs completed")

            own_server.kill()  # a crash, in the middle of the work
            for i in range(5):
                try:
                    accepted.append(queue.add("while-down", {"i": 1000 + i}).id)
                except ConnectionFailedError:
                    refused += 1
            wait_for(lambda: rec["error"], 15, what="an error event from the worker")
            time.sleep(1.0)

            own_server.start()
            accepted += [j.id for j in queue.add_bulk(
                [{"name": "after", "data": {"i": 100 + i}} for i in range(20)])]
            wait_for(lambda: queue.get_job_counts("completed")["completed"] >= len(accepted),
                     60, interval=0.2, what="every accepted job completed")

        assert refused == 5
        counts = queue.get_job_counts()
        assert counts == {"active": 0, "completed": len(accepted), "delayed": 0, "failed": 0,
                          "prioritized": 0, "waiting": 0, "waiting-children": 0}
        completed = {j.id: j for j in queue.get_jobs("completed")}
        assert set(completed) == set(accepted)
        for job in completed.values():
            assert job.returnvalue == job.data["i"]
        assert rec["failed"] == []
        errors = [args[0] for args in rec["error"]]
        assert errors
        assert all(isinstance(e, ConnectionFailedError | RedisError | OSError) for e in errors), \
            errors
        assert any("Redis error" in m and queue_name in m for m in caplog.messages), \
            caplog.messages
    finally:
        queue.close()


# -- 3. A worker process SIGKILLed mid-job ----------------------------------------------------


def test_sigkilled_worker_job_stalls_and_completes_elsewhere(
        redis_url: str, queue: Queue, queue_name: str, r: redis.Redis) -> None:
    first = queue.add("long", {"n": 1})
    second = queue.add("next", {"n": 2})
    lock_key = f"bull:{queue_name}:{first.id}:lock"
    with WorkerProcess(redis_url, queue_name, mode="block", lock_duration=1000,
                       stalled_interval=1000) as doomed:
        doomed.wait_line(f"active {first.id}", timeout=20)
        assert r.exists(lock_key)
        time.sleep(1.5)  # longer than the lock: it is alive only if renewed
        assert r.exists(lock_key), "a healthy worker keeps renewing its lock"
        assert first.get_state() == "active"
        doomed.kill()
        assert doomed.process is not None and doomed.process.returncode == -9
    assert first.get_state() == "active"  # nobody knows yet
    assert second.get_state() == "waiting"

    started = time.monotonic()
    with WorkerProcess(redis_url, queue_name, mode="fast", lock_duration=1000,
                       stalled_interval=1000) as rescuer:
        pid = int(rescuer.wait_line("ready ", timeout=20).split()[1])
        rescuer.wait_line(f"completed {second.id}", timeout=20)
        rescuer.wait_line(f"stalled {first.id}", timeout=20)
        rescuer.wait_line(f"completed {first.id}", timeout=20)
        assert rescuer.stop() == 0
    assert time.monotonic() - started < 20

    done = queue.get_job(first.id)
    assert done is not None
    assert done.returnvalue == {"pid": pid, "data": {"n": 1}}
    assert done.stalled_counter == 1
    assert done.attempts_started == 2
    assert done.attempts_made == 1
    assert queue.get_job_counts("active", "completed", "failed", "waiting") == {
        "active": 0, "completed": 2, "failed": 0, "waiting": 0}
    mine = [e["event"] for e in stream(r, queue_name) if e.get("jobId") == first.id]
    assert "stalled" in mine
    stalled_at = mine.index("stalled")
    assert mine[:2] == ["added", "waiting"]
    assert "active" in mine[:stalled_at]
    assert mine[stalled_at:].count("active") == 1
    assert mine[-1] == "completed"


# -- 4. close() waits for active jobs ------------------------------------------------------


def test_close_waits_for_active_jobs(redis_url: str, queue: Queue, queue_name: str) -> None:
    jobs = queue.add_bulk([{"name": "slow", "data": {"i": i}} for i in range(5)])
    started: list[str] = []

    def process(job: Job) -> int:
        started.append(job.id)
        time.sleep(1.0)
        return job.data["i"]

    worker = Worker(queue_name, process, redis_url, concurrency=3, drain_delay=0.5)
    rec = Recorder(worker, "completed", "closed", "error")
    worker.start()
    try:
        wait_for(lambda: queue.get_job_counts("active")["active"] == 3, 10,
                 what="three active jobs")
        t0 = time.monotonic()
        worker.close(timeout=20)
        took = time.monotonic() - t0
        assert worker._thread is not None
        worker._thread.join(5)
        assert not worker._thread.is_alive()
    finally:
        worker.close(timeout=20)

    assert 0.2 < took < 15, took  # it waited for the jobs, and not forever
    assert len(started) == 3
    assert queue.get_job_counts("active", "completed", "waiting", "failed") == {
        "active": 0, "completed": 3, "waiting": 2, "failed": 0}
    assert len(rec["completed"]) == 3
    assert rec["closed"] == [()]
    assert rec["error"] == []
    for job in jobs:
        got = queue.get_job(job.id)
        assert got is not None
        if job.id in started:
            assert got.returnvalue == job.data["i"]
            assert got.finished_on is not None
        else:
            assert got.processed_on is None
            assert got.get_state() == "waiting"


def test_aclose_waits_for_active_async_jobs(redis_url: str, queue: Queue,
                                            queue_name: str) -> None:
    queue.add_bulk([{"name": "slow", "data": {"i": i}} for i in range(3)])

    async def process(job: Job) -> int:
        await asyncio.sleep(1.0)
        return job.data["i"] * 10

    async def scenario() -> float:
        worker = Worker(queue_name, process, redis_url, concurrency=2, drain_delay=0.5)
        task = asyncio.create_task(worker.arun())
        try:
            deadline = time.monotonic() + 10
            while (await queue.aget_job_counts("active"))["active"] < 2:
                assert time.monotonic() < deadline, "jobs never became active"
                await asyncio.sleep(0.05)
            t0 = time.monotonic()
            await asyncio.wait_for(worker.aclose(), 15)
            await asyncio.wait_for(task, 5)
            return time.monotonic() - t0
        finally:
            if not task.done():
                task.cancel()
            await queue.aclose()

    took = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert 0.2 < took < 15, took
    assert queue.get_job_counts("active", "completed", "waiting") == {
        "active": 0, "completed": 2, "waiting": 1}
    assert sorted(j.returnvalue for j in queue.get_jobs("completed")) == [0, 10]


# -- 5. Malformed job hashes ------------------------------------------------------------------

GARBAGE: dict[str, dict[str, str]] = {
    "data-not-json": {"name": "g", "data": "{not json", "opts": "{}", "timestamp": "1"},
    "opts-not-json": {"name": "g", "data": "{}", "opts": "{oops", "timestamp": "abc"},
    "missing-name": {"data": '{"a": 1}', "opts": '"a string"', "delay": "soon",
                     "priority": "high"},
    "opts-a-list": {"name": "g", "data": "[1, 2", "opts": "[1, 2]", "timestamp": "1.5e12",
                    "progress": "{", "stacktrace": '{"not": "a list"}', "returnvalue": "x"},
    "no-known-field": {"foo": "bar"},
    "numbers-garbage": {"name": "g", "data": "", "opts": "{}", "processedOn": "",
                        "finishedOn": "NaN", "attemptsMade": "many", "stc": "?"},
    "opts-wrong-types": {"name": "g", "data": "{}",
                         "opts": '{"attempts": "three", "backoff": 5, "lifo": "yes", '
                                 '"removeOnComplete": "yes", "removeOnFail": {"count": "x"}, '
                                 '"kl": "many"}'},
    "stack-trace-limit-garbage": {"name": "g", "data": "{}",
                                  "opts": '{"stackTraceLimit": "ten"}'},
    "unknown-backoff": {"name": "g", "data": "{}",
                        "opts": '{"attempts": 3, "backoff": {"type": "nope", "delay": 1}}'},
    "atm-garbage": {"name": "g", "data": "{}", "opts": "{}", "atm": "lots"},
    "ats-garbage": {"name": "g", "data": "{}", "opts": "{}", "ats": "some"},
    "timestamp-infinite": {"name": "g", "data": "{}", "opts": "{}", "timestamp": "inf",
                           "finishedOn": "1e400"},
    "data-deeply-nested": {"name": "g", "data": "[" * 100_000, "opts": "{}"},
}


def write_garbage(r: redis.Redis, queue_name: str, case: str) -> str:
    job_id = f"bad-{case}"
    r.hset(f"bull:{queue_name}:{job_id}", mapping=GARBAGE[case])
    r.lpush(f"bull:{queue_name}:wait", job_id)
    return job_id


READ_CASES = list(GARBAGE)


@pytest.mark.parametrize("case", READ_CASES)
def test_malformed_job_hash_is_readable(queue: Queue, queue_name: str, r: redis.Redis,
                                        case: str) -> None:
    job_id = write_garbage(r, queue_name, case)
    normal = queue.add("normal", {"ok": True})
    raw = GARBAGE[case]

    job = queue.get_job(job_id)
    assert job is not None
    assert job.id == job_id
    assert job.name == raw.get("name", "")
    assert isinstance(job.opts, dict)
    assert isinstance(job.stacktrace, list)
    assert isinstance(job.timestamp, int) and isinstance(job.attempts_made, int)
    assert isinstance(job.attempts, int) and job.attempts >= 1
    assert job.to_dict()["id"] == job_id
    if "data" in raw and raw["data"] in ("{not json", "[1, 2"):
        assert job.data == raw["data"]  # kept as text
    assert repr(job)

    listed = {j.id: j for j in queue.get_jobs()}
    assert set(listed) == {job_id, normal.id}
    assert listed[job_id].raw == raw
    assert {j.id for j in queue.get_jobs("waiting", asc=True)} == {job_id, normal.id}
    assert job.get_state() == "waiting"
    assert queue.remove(job_id) is True
    assert queue.get_job(job_id) is None


WORKER_CASES = [pytest.param(case, mode, id=f"{case}-{mode}")
                for case in GARBAGE for mode in ("fast", "fail")]


@pytest.mark.parametrize(("case", "mode"), WORKER_CASES)
def test_worker_survives_malformed_job(redis_url: str, queue: Queue, queue_name: str,
                                       r: redis.Redis, case: str, mode: str) -> None:
    """The worker processes (fast) or fails (fail) a malformed job and goes on
    with the next one; the job ends completed or failed, never stuck."""
    job_id = write_garbage(r, queue_name, case)
    with WorkerProcess(redis_url, queue_name, mode=mode, lock_duration=2000,
                       stalled_interval=1000) as proc:
        proc.wait_line("ready ", timeout=20)
        outcome = "completed" if mode == "fast" else "failed"
        try:
            proc.wait_line(f"{outcome} {job_id}", timeout=4)
            ok = queue.add("ok", {"after": job_id})
            proc.wait_line(f"completed {ok.id}", timeout=4)
        finally:
            alive = proc.process is not None and proc.process.poll() is None
            output = "\n".join(proc.lines)
        assert alive, f"the worker process died:\n{output}"
        assert "error " not in output, output
        assert proc.stop() == 0, output
    assert ok.get_state() == "completed"
    job = queue.get_job(job_id)
    assert job is not None
    if mode == "fast":
        assert job.get_state() == "completed"
        assert job.returnvalue["pid"] > 0
    else:
        assert job.get_state() == "failed"
        assert job.failed_reason is not None and "refused job" in job.failed_reason
    assert queue.get_job_counts("active")["active"] == 0


def test_stalled_job_with_garbage_counter_is_recovered(redis_url: str, queue: Queue,
                                                       queue_name: str,
                                                       r: redis.Redis) -> None:
    # What a worker that crashed mid-job leaves: the job in active, without a lock.
    r.hset(f"bull:{queue_name}:bad-stc", mapping={"name": "g", "data": "{}", "opts": "{}",
                                                   "stc": "?"})
    r.hset(f"bull:{queue_name}:good-stc", mapping={"name": "g", "data": "{}", "opts": "{}"})
    r.lpush(f"bull:{queue_name}:active", "bad-stc", "good-stc")

    with running_worker(queue_name, lambda job: job.id, redis_url, lock_duration=1000,
                        stalled_interval=500) as worker:
        rec = Recorder(worker, "stalled", "completed")
        wait_for(lambda: {args[0].id for args in rec["completed"]} == {"bad-stc", "good-stc"},
                 8, what="both stalled jobs completed")
    assert sorted(args[0] for args in rec["stalled"]) == ["bad-stc", "good-stc"]
    assert queue.get_job_counts("active")["active"] == 0


# -- 6. Bad return values and raising processors -------------------------------------------


class Opaque:
    pass


@pytest.mark.parametrize("value", [Opaque(), {1, 2}, math.nan, b"bytes", {"k": {"inner": {1}}},
                                   math.inf],
                         ids=["object", "set", "nan", "bytes", "nested-set", "inf"])
def test_unserialisable_return_value_fails_the_job(redis_url: str, queue: Queue,
                                                   queue_name: str, r: redis.Redis,
                                                   value: Any) -> None:
    bad = queue.add("bad", {"n": 1})
    good = queue.add("good", {"n": 2})

    def process(job: Job) -> Any:
        return value if job.name == "bad" else {"fine": job.data["n"]}

    with running_worker(queue_name, process, redis_url) as worker:
        rec = Recorder(worker, "failed", "completed", "error")
        wait_for(lambda: good.get_state() == "completed", 10, what="good job completed")
    assert bad.get_state() == "failed"
    done = queue.get_job(bad.id)
    assert done is not None
    assert done.failed_reason is not None
    assert f"return value of job {bad.id} is not JSON-serialisable" in done.failed_reason
    assert done.returnvalue is None
    assert done.attempts_made == 1
    assert len(done.stacktrace) == 1 and "SerializationError" in done.stacktrace[0]
    assert [args[0].id for args in rec["failed"]] == [bad.id]
    assert [args[0].id for args in rec["completed"]] == [good.id]
    assert rec["error"] == []
    assert queue.get_job(good.id).returnvalue == {"fine": 2}  # type: ignore[union-attr]
    failed_events = [e for e in stream(r, queue_name) if e["event"] == "failed"]
    assert [(e["jobId"], e["failedReason"]) for e in failed_events] == [
        (bad.id, done.failed_reason)]


def test_unserialisable_return_value_failed_event_carries_the_error(
        redis_url: str, queue: Queue, queue_name: str) -> None:
    bad = queue.add("bad", {})

    with running_worker(queue_name, lambda job: {1, 2}, redis_url) as worker:
        rec = Recorder(worker, "failed")
        wait_for(lambda: rec["failed"], 10, what="a failed event")
    [(failed_job, error)] = rec["failed"]
    assert failed_job.id == bad.id
    assert isinstance(error, SerializationError), error
    assert "not JSON-serialisable" in str(error)


def _parse(text: str) -> int:
    return _validate(int(text))


def _validate(number: int) -> int:
    raise ValueError(f"bad input {number}")


def test_raising_processor_records_reason_and_stacktrace(redis_url: str, queue: Queue,
                                                         queue_name: str) -> None:
    twice = queue.add("twice", {"n": "42"}, attempts=2)
    bare = queue.add("bare", {})
    limited = queue.add("limited", {"n": "7"}, attempts=3, stack_trace_limit=1)

    def process(job: Job) -> int:
        if job.name == "bare":
            raise RuntimeError
        return _parse(job.data["n"])

    with running_worker(queue_name, process, redis_url) as worker:
        rec = Recorder(worker, "failed", "error")
        wait_for(lambda: queue.get_job_counts("failed")["failed"] == 3, 15,
                 what="three failed jobs")
    assert rec["error"] == []

    got = queue.get_job(twice.id)
    assert got is not None
    assert got.failed_reason == "bad input 42"
    assert got.attempts_made == 2
    assert len(got.stacktrace) == 2
    for trace in got.stacktrace:
        assert trace.startswith("Traceback (most recent call last)")
        assert "_parse" in trace and "_validate" in trace
        assert trace.rstrip().endswith("ValueError: bad input 42")
    with pytest.raises(JobFailedError, match="bad input 42"):
        twice.wait_until_finished(timeout=5)

    got = queue.get_job(bare.id)
    assert got is not None
    assert got.failed_reason == "RuntimeError"
    assert got.stacktrace[-1].rstrip().endswith("RuntimeError")

    got = queue.get_job(limited.id)
    assert got is not None
    assert got.attempts_made == 3
    assert len(got.stacktrace) == 1  # stack_trace_limit keeps the last one only
    assert "bad input 7" in got.stacktrace[0]
    assert len(rec["failed"]) == 2 + 1 + 3  # every failed attempt is reported


def test_embedded_server_replaces_a_stale_one_on_its_directory(tmp_path: Path) -> None:
    """A server orphaned by a killed demo is stopped before a new one starts on its data."""
    first = EmbeddedRedis(tmp_path)
    first.start()
    stale_pid = first.process.pid  # type: ignore[union-attr]
    first.process = None  # forget it, as a killed parent would
    second = EmbeddedRedis(tmp_path)
    try:
        second.start()
        # gone, or a zombie: it is this test's child, which nobody reaps
        assert not is_running(stale_pid)
        assert redis.Redis(port=second.port).ping()
    finally:
        second.stop()
