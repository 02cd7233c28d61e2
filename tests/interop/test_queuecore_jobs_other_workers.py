"""2. Jobs added by queuecore, processed by a Node BullMQ Worker and by a PyPI
``bullmq`` Worker; queuecore reads back the results."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from queuecore import Queue
from tests.helpers import wait_for

from .compare import assert_same_job
from .helpers import NodeQueue, run_pypi_worker

pytestmark = pytest.mark.interop

CONSUMERS = ["node", "pypi"]


async def pypi_processor(job: Any, token: str) -> Any:
    """The PyPI twin of node/worker.js's processor."""
    data = job.data or {}
    mode = data.get("mode", job.name)
    if mode == "fail":
        raise RuntimeError(data.get("message", "py boom"))
    if mode == "flaky" and job.attemptsMade < data.get("failTimes", 1):
        raise RuntimeError(f"flaky failure {job.attemptsMade + 1}")
    if mode == "progress":
        for value in data.get("progress", []):
            await job.updateProgress(value)
    if mode == "log":
        for line in data.get("lines", []):
            await job.log(line)
    await asyncio.sleep(0)
    return {"echo": data, "by": "pypi", "attemptsMade": job.attemptsMade}


def consume(consumer: str, node_worker: Any, queue: Queue, redis_url: str,
            done: Any, timeout: float = 10.0) -> list[str]:
    """Process the queue with the consumer until ``done()``; returns the ids in
    the order processing started."""
    if consumer == "node":
        worker = node_worker()
        wait_for(done, timeout=timeout, what="the Node worker to finish the jobs")
        order = [m["id"] for m in worker.events("active")]
        worker.close()
        return order
    order: list[str] = []

    async def recording(job: Any, token: str) -> Any:
        order.append(job.id)
        return await pypi_processor(job, token)

    run_pypi_worker(redis_url, queue.name, recording, done, timeout=timeout)
    return order


def idle(queue: Queue, **expected: int) -> Any:
    def check() -> bool:
        counts = queue.get_job_counts("waiting", "active", "delayed", "prioritized",
                                      *expected)
        return counts == {"waiting": 0, "active": 0, "delayed": 0, "prioritized": 0,
                          **expected}
    return check


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_options_and_order(consumer: str, queue: Queue, node_queue: NodeQueue,
                           node_worker: Any, redis_url: str) -> None:
    a = queue.add("echo", {"n": 1})
    b = queue.add("echo", {"n": 2}, job_id="custom-b")
    c = queue.add("echo", {"n": 3}, lifo=True)
    d = queue.add("echo", {"n": 4}, priority=9)
    e = queue.add("echo", {"n": 5}, priority=3)
    f = queue.add("echo", {"n": 6}, timestamp=1_700_000_000_000)
    g = queue.add("echo", {"n": 7}, delay=300)
    assert b.id == "custom-b"
    node_before = node_queue.ops([{"op": "getJob", "id": j.id} for j in (b, c, d, g)])
    assert node_before[0]["opts"]["jobId"] == "custom-b"
    assert node_before[1]["opts"]["lifo"] is True
    assert node_before[2]["priority"] == 9
    assert node_before[2]["state"] == "prioritized"
    assert node_before[3]["state"] == "delayed"
    assert node_before[3]["opts"]["delay"] == 300

    order = consume(consumer, node_worker, queue, redis_url, idle(queue, completed=7))
    ids = [j.id for j in (a, b, c, d, e, f, g)]
    # LIFO first, then FIFO, then by priority; the delayed job runs when due,
    # which may be before the prioritized ones (promotion puts it in wait)
    assert [i for i in order if i != g.id] == [c.id, a.id, b.id, f.id, e.id, d.id]
    assert sorted(order) == sorted(j.id for j in (a, b, c, d, e, f, g))
    node_jobs = node_queue.ops([{"op": "getJob", "id": i} for i in ids])
    for job_id, node_job in zip(ids, node_jobs, strict=True):
        job = queue.get_job(job_id)
        assert job is not None
        assert_same_job(node_job, job, "completed")
        assert job.returnvalue == {"echo": job.data, "by": consumer, "attemptsMade": 0}
        assert job.attempts_made == 1
        assert job.attempts_started == 1
        assert job.processed_on is not None and job.finished_on is not None
        assert job.failed_reason is None
    delayed = queue.get_job(g.id)
    assert delayed is not None and delayed.processed_on >= delayed.timestamp + 300  # type: ignore[operator]
    assert queue.get_job(f.id).timestamp == 1_700_000_000_000  # type: ignore[union-attr]


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_retry_with_fixed_backoff_then_success(consumer: str, queue: Queue,
                                               node_queue: NodeQueue, node_worker: Any,
                                               redis_url: str) -> None:
    job = queue.add("flaky", {"failTimes": 1}, attempts=3,
                    backoff={"type": "fixed", "delay": 300})
    consume(consumer, node_worker, queue, redis_url, idle(queue, completed=1))
    done = queue.get_job(job.id)
    assert done is not None
    assert done.get_state() == "completed"
    assert done.returnvalue == {"echo": {"failTimes": 1}, "by": consumer, "attemptsMade": 1}
    assert done.attempts_made == 2
    assert done.attempts_started == 2
    assert done.failed_reason == "flaky failure 1"
    assert len(done.stacktrace) == 1 and "flaky failure 1" in done.stacktrace[0]
    assert done.finished_on - done.timestamp >= 300  # type: ignore[operator]
    assert_same_job(node_queue.op("getJob", id=job.id), done, "completed")


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_always_fails_with_exponential_backoff(consumer: str, queue: Queue,
                                               node_queue: NodeQueue, node_worker: Any,
                                               redis_url: str) -> None:
    job = queue.add("fail", {"message": "always broken"}, attempts=3,
                    backoff={"type": "exponential", "delay": 100})
    plain = queue.add("fail", {})
    consume(consumer, node_worker, queue, redis_url, idle(queue, failed=2))
    failed = queue.get_job(job.id)
    assert failed is not None
    assert failed.get_state() == "failed"
    assert failed.failed_reason == "always broken"
    assert failed.attempts_made == 3
    assert failed.attempts_started == 3
    assert failed.returnvalue is None
    assert len(failed.stacktrace) == 3
    assert all("always broken" in trace for trace in failed.stacktrace)
    # backoffs of 100 then 200 ms were waited
    assert failed.finished_on - failed.timestamp >= 300  # type: ignore[operator]
    assert_same_job(node_queue.op("getJob", id=job.id), failed, "failed")

    once = queue.get_job(plain.id)
    assert once is not None
    assert once.failed_reason == ("node boom" if consumer == "node" else "py boom")
    assert once.attempts_made == 1
    assert sorted(j.id for j in queue.get_jobs("failed")) == sorted([job.id, plain.id])
    assert node_queue.op("getJobs", types=["failed"]) == [j.id for j in queue.get_jobs("failed")]
    assert_same_job(node_queue.op("getJob", id=plain.id), once, "failed")


@pytest.mark.parametrize("consumer", CONSUMERS)
@pytest.mark.parametrize(("on_complete", "on_fail", "kept_completed", "kept_failed"), [
    (True, True, 0, 0),
    (2, 1, 2, 1),
    ({"age": 3600, "count": 1}, {"age": 3600, "count": 2}, 1, 2),
    (False, False, 3, 3),
])
def test_remove_on_complete_and_fail(consumer: str, queue: Queue, node_queue: NodeQueue,
                                     node_worker: Any, redis_url: str, on_complete: Any,
                                     on_fail: Any, kept_completed: int,
                                     kept_failed: int) -> None:
    ok = [queue.add("echo", {"i": i}, remove_on_complete=on_complete) for i in range(3)]
    bad = [queue.add("fail", {"i": i}, remove_on_fail=on_fail) for i in range(3)]
    stored = queue.get_job(ok[0].id)
    assert stored is not None and stored.opts["remove_on_complete"] == on_complete
    node_opts = node_queue.op("getJob", id=bad[0].id)["opts"]
    assert node_opts["removeOnFail"] == on_fail

    consume(consumer, node_worker, queue, redis_url,
            idle(queue, completed=kept_completed, failed=kept_failed))
    completed = [j.id for j in ok[3 - kept_completed:]] if kept_completed else []
    failed = [j.id for j in bad[3 - kept_failed:]] if kept_failed else []
    assert [j.id for j in queue.get_jobs("completed", asc=True)] == completed
    assert [j.id for j in queue.get_jobs("failed", asc=True)] == failed
    assert node_queue.ops([
        {"op": "getJobs", "types": ["completed"], "asc": True},
        {"op": "getJobs", "types": ["failed"], "asc": True},
    ]) == [completed, failed]
    removed = [j.id for j in ok + bad if j.id not in completed + failed]
    assert all(queue.get_job(i) is None for i in removed)


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_keep_logs_and_progress(consumer: str, queue: Queue, node_queue: NodeQueue,
                                node_worker: Any, redis_url: str) -> None:
    logged = queue.add("log", {"lines": ["a", "b", "c", "d"]}, keep_logs=3)
    progressed = queue.add("progress", {"progress": [10, {"step": 2, "of": 3}]})
    consume(consumer, node_worker, queue, redis_url, idle(queue, completed=2))
    assert queue.get_job_logs(logged.id) == {"logs": ["b", "c", "d"], "count": 3}
    assert node_queue.op("getJobLogs", id=logged.id) == {"logs": ["b", "c", "d"], "count": 3}
    job = queue.get_job(progressed.id)
    assert job is not None and job.progress == {"step": 2, "of": 3}
    assert_same_job(node_queue.op("getJob", id=progressed.id), job, "completed")
