"""Rate limits and global concurrency (BullMQ 6.7 semantics) against a real Redis."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from queuecore import InvalidOptionError, Job, Queue, RateLimitError, Worker
from tests.helpers import REPO, WorkerProcess, running_worker, wait_for
from tests.rate_check import check_fixed_windows, fixed_windows

RunWorker = Callable[[Worker], Worker]
PROC_SCRIPT = REPO / "tests" / "rate_limit_proc.py"


class LimitedWorkerProcess(WorkerProcess):
    """tests/rate_limit_proc.py: a worker with a limiter, in a process of its own."""

    def __init__(self, url: str, queue: str, max_jobs: int, duration: int, concurrency: int,
                 name: str) -> None:
        super().__init__(url, queue)
        self.argv = [sys.executable, str(PROC_SCRIPT), "--url", url, "--queue", queue,
                     "--max", str(max_jobs), "--duration", str(duration),
                     "--concurrency", str(concurrency), "--name", name]


def starts(queue: Queue) -> list[Job]:
    return sorted(queue.get_jobs("completed"), key=lambda j: (j.processed_on or 0, j.id))


def all_completed(queue: Queue, n: int) -> bool:
    return queue.get_job_counts("completed")["completed"] == n


def stream(r: redis.Redis, queue: Queue) -> list[dict[str, str]]:
    return [fields for _id, fields in r.xrange(queue.keys["events"])]


def test_fixed_windows_open_at_the_first_start_after_expiry() -> None:
    # 3 starts in 1000 ms, then 3 more right after expiry: a sliding window would
    # see 5 in [10, 1010), but the fixed windows hold 3 and 3
    assert fixed_windows([0, 10, 990, 1000, 1005, 1010, 2500], 1000) == [
        [0, 10, 990], [1000, 1005, 1010], [2500]]
    check_fixed_windows([0, 10, 990, 1000, 1005, 1010], 3, 1000, jitter=0)
    with pytest.raises(AssertionError, match="4 starts in one window"):
        check_fixed_windows([0, 10, 500, 990, 1000], 3, 1000, jitter=0)


def test_limiter_window_is_shared_by_two_worker_processes(queue: Queue, redis_url: str) -> None:
    max_jobs, duration, total = 3, 1000, 15
    queue.add_bulk([{"name": "n", "data": {"i": i}} for i in range(total)])
    procs = [LimitedWorkerProcess(redis_url, queue.name, max_jobs, duration, 2, f"p{i}")
             for i in (1, 2)]
    with procs[0], procs[1]:
        for proc in procs:
            proc.wait_line("ready")
        wait_for(lambda: all_completed(queue, total), timeout=30, what="all jobs completed")
        for proc in procs:
            assert proc.stop() == 0
    jobs = starts(queue)
    assert {j.attempts_started for j in jobs} == {1}
    assert {j.processed_by for j in jobs} == {"p1", "p2"}  # both processes took jobs
    windows = check_fixed_windows([j.processed_on or 0 for j in jobs], max_jobs, duration)
    # each window is filled, and the next opens when the limiter expires, not later
    assert len(windows) == total // max_jobs, windows
    span = windows[-1][0] - windows[0][0]
    assert (len(windows) - 1) * duration - 50 <= span < (len(windows) - 1) * (duration + 400)


def test_worker_waits_out_the_limiter_rather_than_polling(queue: Queue, redis_url: str) -> None:
    for i in range(3):
        queue.add("n", {"i": i})
    worker = Worker(queue.name, lambda job: None, redis_url, concurrency=2,
                    limiter={"max": 1, "duration": 1200}, drain_delay=5)
    calls: list[str] = []
    real_call = worker._call

    async def counting_call(request: Any) -> Any:
        calls.append(getattr(request, "script", "?"))
        return await real_call(request)

    worker._call = counting_call  # type: ignore[method-assign]
    with _running(worker):
        wait_for(lambda: all_completed(queue, 3), timeout=10)
    moves = [c for c in calls if c in ("move_to_active", "move_to_finished")]
    # three windows: a fetch or finish at each opening and one that hears the
    # TTL; a worker spinning on the limiter would make hundreds
    assert 3 <= len(moves) <= 12, calls
    check_fixed_windows([j.processed_on or 0 for j in starts(queue)], 1, 1200)


def test_limited_worker_wakes_at_the_ttl_without_a_marker(queue: Queue, redis_url: str,
                                                          r: redis.Redis) -> None:
    # While limited, a finished job is reported without fetching; that empty
    # answer must not count as "queue drained" (which blocks on the marker for
    # drain_delay): the worker wakes when the limiter expires.
    for i in range(3):
        queue.add("n", {"i": i})

    def processor(job: Job) -> None:
        time.sleep(0.05)  # finish after the worker heard the limiter's TTL
        r.delete(queue.keys["marker"])  # no marker to wake anyone up

    worker = Worker(queue.name, processor, redis_url, concurrency=2, drain_delay=10,
                    limiter={"max": 1, "duration": 500})
    with _running(worker):
        wait_for(lambda: all_completed(queue, 3), timeout=5)
    windows = check_fixed_windows([j.processed_on or 0 for j in starts(queue)], 1, 500)
    assert windows[-1][0] - windows[0][0] < 2 * 500 + 800


class _running:
    """Run an already built worker in a thread for a ``with`` body."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def __enter__(self) -> Worker:
        self.worker.start()
        return self.worker

    def __exit__(self, *exc: object) -> None:
        self.worker.close(timeout=10)
        assert self.worker._thread is not None
        self.worker._thread.join(5)


def test_delayed_jobs_are_promoted_while_limited(queue: Queue, redis_url: str) -> None:
    queue.add("first")
    later = queue.add("later", delay=300)
    with running_worker(queue.name, lambda job: None, redis_url, drain_delay=5,
                        limiter={"max": 1, "duration": 60_000}, maximum_rate_limit_delay=300):
        wait_for(lambda: all_completed(queue, 1))
        # the limit holds for a minute, yet the worker's next try promotes the job
        wait_for(lambda: queue.get_job(later.id).get_state() == "waiting",  # type: ignore
                 timeout=3, what="the delayed job promoted")
        time.sleep(0.5)
        job = queue.get_job(later.id)
        assert job is not None and job.get_state() == "waiting" and job.processed_on is None
        assert queue.get_rate_limit_ttl(1) > 55_000


def test_rate_limit_error_puts_the_job_back_first_without_an_attempt(
        queue: Queue, redis_url: str, r: redis.Redis) -> None:
    first = queue.add("limited")
    others = [queue.add("next"), queue.add("last")]
    order: list[tuple[str, int]] = []
    limited_once = threading.Event()

    async def processor(job: Job) -> str:
        order.append((job.id, int(time.time() * 1000)))
        if job.id == first.id and not limited_once.is_set():
            limited_once.set()
            await worker.arate_limit(800)
            raise RateLimitError()
        return "done"

    worker = Worker(queue.name, processor, redis_url, drain_delay=5)
    failed: list[Any] = []
    worker.on("failed", lambda job, exc: failed.append(job.id))
    with _running(worker):
        wait_for(lambda: all_completed(queue, 3), timeout=10)
    assert [job_id for job_id, _ in order] == [first.id, first.id, others[0].id, others[1].id]
    assert order[1][1] - order[0][1] >= 750  # the worker waited out the limiter's TTL
    assert failed == []
    done = queue.get_job(first.id)
    assert done is not None
    assert (done.attempts_made, done.attempts_started) == (1, 2)
    assert done.failed_reason is None and done.returnvalue == "done"
    events = [e for e in stream(r, queue) if e.get("jobId") == first.id]
    assert [e["event"] for e in events] == ["added", "waiting", "active", "waiting", "active",
                                            "completed"]
    assert events[3]["prev"] == "active"


def test_rate_limit_wait_is_capped_and_priority_kept(queue: Queue, redis_url: str,
                                                     r: redis.Redis) -> None:
    low = queue.add("low", priority=5)
    high = queue.add("high", priority=1)
    other_high = queue.add("high2", priority=1)
    order: list[tuple[str, float]] = []

    def processor(job: Job) -> None:
        order.append((job.name, time.monotonic()))
        if job.id == high.id and len(order) == 1:
            worker.rate_limit(60_000)  # a minute, but the worker waits at most 400 ms
            raise RateLimitError()

    worker = Worker(queue.name, processor, redis_url, drain_delay=5,
                    maximum_rate_limit_delay=400)
    with _running(worker):
        wait_for(lambda: all_completed(queue, 3), timeout=10)
    # back in front of its priority, ahead of the other job of priority 1
    assert [name for name, _ in order] == ["high", "high", "high2", "low"]
    assert 0.35 <= order[1][1] - order[0][1] < 5
    assert r.pttl(queue.keys["limiter"]) > 50_000  # the key was not touched by the worker
    assert queue.get_job(high.id).attempts_made == 1  # type: ignore[union-attr]
    assert {low.id, other_high.id} <= {j.id for j in queue.get_jobs("completed")}


def test_rate_limit_error_from_a_sandboxed_processor(queue: Queue, redis_url: str,
                                                     run_worker: RunWorker) -> None:
    # the child's exception arrives as text: its message identifies it
    job = queue.add("n")
    failed: list[Any] = []
    worker = Worker(queue.name, "tests.rate_limit_proc.limited_once", redis_url, sandboxed=True,
                    processes=1, drain_delay=5)
    worker.on("failed", lambda job, exc: failed.append(exc))
    run_worker(worker)
    wait_for(lambda: all_completed(queue, 1), timeout=30)
    done = queue.get_job(job.id)
    assert done is not None and done.returnvalue == "second time"
    assert (done.attempts_made, done.attempts_started) == (1, 2) and failed == []


def test_rate_limit_error_with_a_lost_lock_leaves_the_job(queue: Queue, redis_url: str,
                                                         r: redis.Redis) -> None:
    job = queue.add("stolen")
    errors: list[Exception] = []

    def processor(job: Job) -> None:
        r.set(queue.keys.job(job.id) + ":lock", "another-worker:1")
        raise RateLimitError()

    worker = Worker(queue.name, processor, redis_url, drain_delay=5)
    worker.on("error", errors.append)
    with _running(worker):
        wait_for(lambda: errors, what="the lock error")
    assert "held by another worker" in str(errors[0])
    assert r.lrange(queue.keys["active"], 0, -1) == [job.id]
    assert r.llen(queue.keys["wait"]) == 0


def test_global_concurrency_caps_active_jobs_across_workers(queue: Queue,
                                                            run_worker: RunWorker,
                                                            redis_url: str) -> None:
    queue.set_global_concurrency(3)
    lock = threading.Lock()
    running = [0]
    most = [0]

    def processor(job: Job) -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.15)
        with lock:
            running[0] -= 1

    queue.add_bulk([{"name": "n"} for _ in range(15)])
    for _ in range(2):
        run_worker(Worker(queue.name, processor, redis_url, concurrency=5, drain_delay=0.3))
    wait_for(lambda: all_completed(queue, 15), timeout=20)
    assert most[0] == 3


def test_global_rate_limit_applies_to_a_worker_without_limiter(queue: Queue,
                                                              run_worker: RunWorker,
                                                              redis_url: str) -> None:
    queue.set_global_rate_limit(2, 700)
    queue.add_bulk([{"name": "n"} for _ in range(6)])
    run_worker(Worker(queue.name, lambda job: None, redis_url, concurrency=4, drain_delay=5))
    wait_for(lambda: all_completed(queue, 6), timeout=10)
    windows = check_fixed_windows([j.processed_on or 0 for j in starts(queue)], 2, 700)
    assert len(windows) == 3


def test_global_max_overrides_the_worker_max_and_worker_duration_wins(
        queue: Queue, run_worker: RunWorker, redis_url: str, r: redis.Redis) -> None:
    # BullMQ's asymmetry: max from meta first, duration from the worker first
    queue.set_global_rate_limit(1, 60_000)
    queue.add_bulk([{"name": "n"} for _ in range(3)])
    run_worker(Worker(queue.name, lambda job: None, redis_url, concurrency=3, drain_delay=5,
                      limiter={"max": 10, "duration": 600}))
    wait_for(lambda: all_completed(queue, 3), timeout=10)
    windows = check_fixed_windows([j.processed_on or 0 for j in starts(queue)], 1, 600)
    assert len(windows) == 3


def test_global_settings_are_meta_fields(queue: Queue, r: redis.Redis) -> None:
    assert queue.get_global_concurrency() is None
    assert queue.get_global_rate_limit() is None
    queue.set_global_concurrency(4)
    queue.set_global_rate_limit(10, 1000)
    assert r.hgetall(queue.keys["meta"]) == {"concurrency": "4", "max": "10", "duration": "1000"}
    assert queue.get_global_concurrency() == 4
    assert queue.get_global_rate_limit() == {"max": 10, "duration": 1000}
    r.hdel(queue.keys["meta"], "duration")
    assert queue.get_global_rate_limit() is None  # both or nothing, as BullMQ reads it
    queue.remove_global_rate_limit()
    queue.remove_global_concurrency()
    assert r.hgetall(queue.keys["meta"]) == {}


def test_get_rate_limit_ttl(queue: Queue, r: redis.Redis) -> None:
    limiter = queue.keys["limiter"]
    assert queue.get_rate_limit_ttl() == -2  # no key, no max: PTTL as is
    assert queue.get_rate_limit_ttl(5) == 0
    queue.rate_limit(5000)
    assert r.get(limiter) == str(2**53 - 1)
    assert 4000 < queue.get_rate_limit_ttl() <= 5000
    assert 4000 < queue.get_rate_limit_ttl(1_000_000) <= 5000
    r.set(limiter, 2, px=5000)  # two starts in the current window
    assert queue.get_rate_limit_ttl(3) == 0
    assert 4000 < queue.get_rate_limit_ttl(2) <= 5000
    assert 4000 < queue.get_rate_limit_ttl() <= 5000  # no max anywhere: plain PTTL
    queue.set_global_rate_limit(3, 1000)
    assert queue.get_rate_limit_ttl() == 0  # the global max applies: 2 < 3
    r.incr(limiter)
    assert 4000 < queue.get_rate_limit_ttl() <= 5000
    r.persist(limiter)
    assert queue.get_rate_limit_ttl() == 0  # a counter without expiry does not limit
    assert queue.remove_rate_limit_key() == 1
    assert queue.remove_rate_limit_key() == 0
    assert queue.get_rate_limit_ttl() == 0


def test_async_twins(queue: Queue, r: redis.Redis) -> None:
    async def scenario() -> None:
        await queue.aset_global_concurrency(2)
        await queue.aset_global_rate_limit(5, 100)
        assert await queue.aget_global_concurrency() == 2
        assert await queue.aget_global_rate_limit() == {"max": 5, "duration": 100}
        await queue.arate_limit(3000)
        assert 2000 < await queue.aget_rate_limit_ttl() <= 3000
        assert await queue.aremove_rate_limit_key() == 1
        await queue.aremove_global_concurrency()
        await queue.aremove_global_rate_limit()
        await queue.aclose()

    asyncio.run(scenario())
    assert r.hgetall(queue.keys["meta"]) == {}


@pytest.mark.parametrize(("call", "message"), [
    (lambda q: q.set_global_concurrency(0), "global concurrency must be an integer >= 1"),
    (lambda q: q.set_global_concurrency("3"), "global concurrency must be an integer"),
    (lambda q: q.set_global_concurrency(True), "global concurrency must be an integer"),
    (lambda q: q.set_global_rate_limit(0, 1000), "global rate limit max must be"),
    (lambda q: q.set_global_rate_limit(5, 0), "global rate limit duration must be"),
    (lambda q: q.set_global_rate_limit(5, 1.5), "global rate limit duration must be"),
    (lambda q: q.rate_limit(0), "rate limit ms must be an integer >= 1"),
    (lambda q: q.rate_limit(-100), "rate limit ms must be"),
    (lambda q: q.rate_limit("1000"), "rate limit ms must be"),
    (lambda q: q.get_rate_limit_ttl(0), "max_jobs must be an integer >= 1"),
])
def test_bad_input_is_refused_and_nothing_written(queue: Queue, r: redis.Redis,
                                                  call: Callable[[Queue], Any],
                                                  message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message):
        call(queue)
    assert r.exists(queue.keys["meta"], queue.keys["limiter"]) == 0


@pytest.mark.parametrize(("options", "message"), [
    ({"limiter": {"max": 0, "duration": 1000}}, "limiter max must be an integer >= 1"),
    ({"limiter": {"max": 5, "duration": -1}}, "limiter duration must be"),
    ({"limiter": {"max": 5}}, "limiter must be"),
    ({"limiter": {"max": 5, "duration": 10, "groupKey": "x"}}, "limiter must be"),
    ({"limiter": {"max": True, "duration": 10}}, "limiter max must be"),
    ({"maximum_rate_limit_delay": 0}, "maximum_rate_limit_delay must be an integer >= 1"),
])
def test_bad_worker_limits_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message):
        Worker("q", lambda job: None, "redis://localhost:1", **options)
