"""Worker behaviour against a real Redis: processing, retries, retention, events."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from queuecore import Job, Queue, UnrecoverableError, Worker, register_backoff
from tests.helpers import wait_for

RunWorker = Callable[[Worker], Worker]


def stream(r: redis.Redis, queue: Queue) -> list[dict[str, str]]:
    return [fields for _id, fields in r.xrange(queue.keys["events"])]


def test_async_processor_completes_jobs(queue: Queue, redis_url: str, r: redis.Redis,
                                        run_worker: RunWorker) -> None:
    jobs = [queue.add("double", {"n": n}) for n in range(20)]

    async def double(job: Job) -> int:
        return job.data["n"] * 2

    completed: list[tuple[str, Any]] = []
    worker = Worker(queue.name, double, connection=redis_url, concurrency=5)
    worker.on("completed", lambda job, result: completed.append((job.id, result)))
    run_worker(worker)
    wait_for(lambda: queue.get_job_counts("completed")["completed"] == 20)
    for job in jobs:
        done = queue.get_job(job.id)
        assert done is not None
        assert done.returnvalue == job.data["n"] * 2
        assert (done.attempts_made, done.attempts_started) == (1, 1)
        assert done.finished_on and done.processed_on and done.finished_on >= done.processed_on
        assert done.get_state() == "completed"
        assert r.zscore(queue.keys["completed"], job.id) == done.finished_on
    wait_for(lambda: len(completed) == 20)
    names = [e["event"] for e in stream(r, queue)]
    assert names.count("active") == 20 and names.count("completed") == 20
    completed_event = next(e for e in stream(r, queue) if e["event"] == "completed")
    assert completed_event["prev"] == "active"
    assert json.loads(completed_event["returnvalue"]) in [n * 2 for n in range(20)]
    assert r.llen(queue.keys["active"]) == 0


def test_sync_processor_runs_in_threads(queue: Queue, redis_url: str,
                                        run_worker: RunWorker) -> None:
    threads: set[str] = set()
    barrier = threading.Barrier(3, timeout=5)

    def blocking(job: Job) -> str:
        threads.add(threading.current_thread().name)
        barrier.wait()  # three jobs at once, or this times out
        job.update_progress(100)
        return "ok"

    for i in range(3):
        queue.add("b", {"i": i})
    run_worker(Worker(queue.name, blocking, connection=redis_url, concurrency=3))
    wait_for(lambda: queue.get_job_counts("completed")["completed"] == 3)
    assert len(threads) == 3


def test_retries_with_fixed_backoff_then_completes(queue: Queue, redis_url: str, r: redis.Redis,
                                                   run_worker: RunWorker) -> None:
    starts: list[float] = []

    async def flaky(job: Job) -> str:
        starts.append(time.monotonic())
        if len(starts) < 3:
            raise RuntimeError(f"attempt {len(starts)} failed")
        return "finally"

    job = queue.add("flaky", attempts=3, backoff={"type": "fixed", "delay": 200})
    failed: list[str] = []
    worker = Worker(queue.name, flaky, connection=redis_url)
    worker.on("failed", lambda job, exc: failed.append(str(exc)))
    run_worker(worker)
    wait_for(lambda: job.get_state() == "completed")
    done = queue.get_job(job.id)
    assert done is not None
    assert done.returnvalue == "finally"
    assert done.attempts_made == 3 and done.attempts_started == 3
    assert failed == ["attempt 1 failed", "attempt 2 failed"]
    assert starts[1] - starts[0] >= 0.19 and starts[2] - starts[1] >= 0.19
    assert len(done.stacktrace) == 2 and "RuntimeError: attempt 2 failed" in done.stacktrace[1]
    names = [e["event"] for e in stream(r, queue)]
    assert "failed" not in names  # intermediate failures are not final
    assert names.count("delayed") == 2


def test_exponential_backoff_delays_double(queue: Queue, redis_url: str, r: redis.Redis,
                                           run_worker: RunWorker) -> None:
    async def always(job: Job) -> None:
        raise ValueError("nope")

    job = queue.add("exp", attempts=3, backoff={"type": "exponential", "delay": 100})
    run_worker(Worker(queue.name, always, connection=redis_url))
    wait_for(lambda: job.get_state() == "failed")
    delays = [int(e["delay"]) for e in stream(r, queue) if e["event"] == "delayed"]
    actives = [int(i.split("-")[0]) for i, e in r.xrange(queue.keys["events"])
               if e["event"] == "active"]
    assert len(delays) == 2
    assert delays[0] - actives[0] >= 100 and delays[1] - actives[1] >= 200
    done = queue.get_job(job.id)
    assert done is not None
    assert (done.failed_reason, done.attempts_made) == ("nope", 3)
    names = [e["event"] for e in stream(r, queue)]
    at = names.index("failed")
    assert names[at + 1] == "retries-exhausted"


def test_retry_without_backoff_goes_back_to_wait(queue: Queue, redis_url: str, r: redis.Redis,
                                                 run_worker: RunWorker) -> None:
    calls = []

    async def once(job: Job) -> str:
        calls.append(job.attempts_made)
        if len(calls) == 1:
            raise RuntimeError("first")
        return "second"

    job = queue.add("r", attempts=2)
    run_worker(Worker(queue.name, once, connection=redis_url))
    wait_for(lambda: job.get_state() == "completed")
    assert calls == [0, 1]
    assert {"event": "waiting", "jobId": job.id, "prev": "active"} in stream(r, queue)


def test_unrecoverable_error_fails_at_once(queue: Queue, redis_url: str,
                                           run_worker: RunWorker) -> None:
    async def fatal(job: Job) -> None:
        raise UnrecoverableError("bad input")

    job = queue.add("u", attempts=5, backoff=10)
    run_worker(Worker(queue.name, fatal, connection=redis_url))
    wait_for(lambda: job.get_state() == "failed")
    done = queue.get_job(job.id)
    assert done is not None
    assert (done.failed_reason, done.attempts_made) == ("bad input", 1)


def test_custom_backoff_strategy(queue: Queue, redis_url: str, r: redis.Redis,
                                 run_worker: RunWorker) -> None:
    register_backoff("linear-test", lambda made, opts, err, job: 50 * made)
    with pytest.raises(ValueError, match="unknown backoff type 'nope'"):
        queue.add("x", attempts=2, backoff={"type": "nope"})

    async def fail(job: Job) -> None:
        raise RuntimeError("x")

    job = queue.add("c", attempts=2, backoff={"type": "linear-test"})
    run_worker(Worker(queue.name, fail, connection=redis_url))
    wait_for(lambda: job.get_state() == "failed")
    assert any(e["event"] == "delayed" for e in stream(r, queue))


def test_return_value_not_json_fails_the_job(queue: Queue, redis_url: str,
                                             run_worker: RunWorker) -> None:
    async def returns_set(job: Job) -> set[int]:
        return {1, 2}

    job = queue.add("s")
    run_worker(Worker(queue.name, returns_set, connection=redis_url))
    wait_for(lambda: job.get_state() == "failed")
    done = queue.get_job(job.id)
    assert done is not None and done.failed_reason
    assert "not JSON-serialisable" in done.failed_reason


def test_remove_on_complete_and_fail(queue: Queue, redis_url: str, r: redis.Redis,
                                     run_worker: RunWorker) -> None:
    async def proc(job: Job) -> str:
        if job.name == "bad":
            raise RuntimeError("bad")
        return "ok"

    gone = queue.add("good", remove_on_complete=True)
    kept = [queue.add("good", remove_on_complete=2) for _ in range(4)]
    failed_gone = queue.add("bad", remove_on_fail=True)
    run_worker(Worker(queue.name, proc, connection=redis_url))
    wait_for(lambda: r.llen(queue.keys["wait"]) == 0 and r.llen(queue.keys["active"]) == 0)
    wait_for(lambda: not r.exists(queue.keys.job(failed_gone.id)))
    assert not r.exists(queue.keys.job(gone.id))
    assert r.zrange(queue.keys["completed"], 0, -1) == [kept[2].id, kept[3].id]
    assert not r.exists(queue.keys.job(kept[0].id))
    # the event still carries the result
    assert any(e.get("jobId") == gone.id and e["event"] == "completed"
               for e in stream(r, queue))


def test_delayed_job_runs_when_due(queue: Queue, redis_url: str,
                                   run_worker: RunWorker) -> None:
    ran_at: list[float] = []

    async def proc(job: Job) -> None:
        ran_at.append(time.time())

    added = time.time()
    queue.add("later", delay=300)
    run_worker(Worker(queue.name, proc, connection=redis_url))
    wait_for(lambda: ran_at, timeout=5)
    assert 0.29 <= ran_at[0] - added < 2.0


def test_priority_order_with_one_worker(queue: Queue, redis_url: str,
                                        run_worker: RunWorker) -> None:
    order: list[str] = []

    async def proc(job: Job) -> None:
        order.append(job.name)

    queue.add("p5", priority=5)
    queue.add("p1", priority=1)
    queue.add("none")
    queue.add("p3", priority=3)
    run_worker(Worker(queue.name, proc, connection=redis_url))
    wait_for(lambda: len(order) == 4)
    assert order == ["none", "p1", "p3", "p5"]


def test_paused_queue_is_not_processed(queue: Queue, redis_url: str,
                                       run_worker: RunWorker) -> None:
    seen: list[str] = []

    async def proc(job: Job) -> None:
        seen.append(job.id)

    queue.pause()
    queue.add("x")
    run_worker(Worker(queue.name, proc, connection=redis_url, drain_delay=0.2))
    time.sleep(0.5)
    assert seen == []
    queue.resume()
    wait_for(lambda: seen)


def test_worker_events_and_drained(queue: Queue, redis_url: str, run_worker: RunWorker) -> None:
    got: list[str] = []

    async def proc(job: Job) -> int:
        await job.aupdate_progress(50)
        return 1

    worker = Worker(queue.name, proc, connection=redis_url)
    for name in ("active", "progress", "completed", "drained"):
        worker.on(name, lambda *args, _n=name: got.append(_n))
    with pytest.raises(ValueError, match="unknown worker event"):
        worker.on("finished", print)
    queue.add("e")
    run_worker(worker)
    wait_for(lambda: "completed" in got and got[-1] == "drained")
    assert got.index("active") < got.index("progress") < got.index("completed")


def test_job_with_deferred_failure_fails_without_running(queue: Queue, redis_url: str,
                                                         r: redis.Redis,
                                                         run_worker: RunWorker) -> None:
    ran: list[str] = []
    job = queue.add("stalled-too-often", attempts=3)
    r.hset(queue.keys.job(job.id), "defa", "job stalled more than allowable limit")

    async def proc(job: Job) -> None:
        ran.append(job.id)

    run_worker(Worker(queue.name, proc, connection=redis_url))
    wait_for(lambda: job.get_state() == "failed")
    done = queue.get_job(job.id)
    assert done is not None
    assert done.failed_reason == "job stalled more than allowable limit"
    assert ran == [] and "defa" not in r.hgetall(queue.keys.job(job.id))


def test_wait_until_finished(queue: Queue, redis_url: str, run_worker: RunWorker) -> None:
    async def proc(job: Job) -> dict[str, Any]:
        await asyncio.sleep(0.05)
        if job.name == "bad":
            raise RuntimeError("it broke")
        return {"echo": job.data}

    run_worker(Worker(queue.name, proc, connection=redis_url))
    assert queue.add("good", {"a": 1}).wait_until_finished(5) == {"echo": {"a": 1}}
    from queuecore import JobFailedError
    with pytest.raises(JobFailedError, match="it broke"):
        queue.add("bad").wait_until_finished(5)


def test_async_api_twins(queue: Queue, redis_url: str) -> None:
    async def scenario() -> None:
        job = await queue.aadd("a", {"x": 1}, delay=10_000)
        assert await job.aget_state() == "delayed"
        await job.apromote()
        counts = await queue.aget_job_counts("waiting", "delayed")
        assert counts == {"waiting": 1, "delayed": 0}
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def proc(job: Job) -> str:
            return "async"

        worker = Worker(queue.name, proc, connection=redis_url)
        worker.on("completed", lambda job, result: done.set_result(result))
        task = asyncio.ensure_future(worker.arun())
        assert await asyncio.wait_for(done, 5) == "async"
        await worker.aclose()
        await task
        assert [j.id for j in await queue.aget_jobs("completed")] == [job.id]
        await queue.aclose()

    asyncio.run(scenario())


def test_close_waits_for_active_jobs(queue: Queue, redis_url: str, r: redis.Redis) -> None:
    started = threading.Event()

    async def slow(job: Job) -> str:
        started.set()
        await asyncio.sleep(0.5)
        return "done"

    queue.add("slow")
    worker = Worker(queue.name, slow, connection=redis_url)
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert started.wait(5)
    worker.close()
    thread.join(5)
    assert not thread.is_alive()
    assert r.llen(queue.keys["active"]) == 0
    assert queue.get_job_counts("completed")["completed"] == 1


def test_invalid_worker_options() -> None:
    async def proc(job: Job) -> None:
        return None

    with pytest.raises(ValueError, match="concurrency"):
        Worker("q", proc, concurrency=0)
    with pytest.raises(ValueError, match="limiter"):
        Worker("q", proc, limiter={"max": 1})
    with pytest.raises(ValueError, match="contains ':'"):
        Worker("a:b", proc)
