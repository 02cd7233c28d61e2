"""1. Jobs added by Node BullMQ, processed by a queuecore Worker, read back by both."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from queuecore import Job, Queue, Worker
from tests.helpers import wait_for

from .compare import assert_same_job
from .helpers import NodeQueue

pytestmark = pytest.mark.interop


def finished(queue: Queue, job_id: str) -> bool:
    return queue.get_job(job_id) is not None and \
        queue.get_job(job_id).get_state() in ("completed", "failed")  # type: ignore[union-attr]


def counts_reach(queue: Queue, **expected: int) -> Any:
    def check() -> bool:
        counts = queue.get_job_counts(*expected)
        return all(counts[state] == n for state, n in expected.items())
    return check


def test_options_order_and_readback(queue: Queue, node_queue: NodeQueue, qc_worker) -> None:
    now = int(time.time() * 1000)
    ids = node_queue.ops([
        {"op": "add", "name": "a", "data": {"n": 1}},
        {"op": "add", "name": "b", "data": {"n": 2}, "opts": {"jobId": "custom-b"}},
        {"op": "add", "name": "c", "data": {"n": 3}, "opts": {"lifo": True}},
        {"op": "add", "name": "d", "data": {"n": 4}, "opts": {"priority": 7}},
        {"op": "add", "name": "e", "data": {"n": 5}, "opts": {"priority": 2}},
        {"op": "add", "name": "f", "data": {"n": 6}, "opts": {"timestamp": now - 60_000}},
        {"op": "add", "name": "g", "data": {"n": 7}, "opts": {"delay": 400}},
    ])
    a, b, c, d, e, f, g = ids
    assert b == "custom-b"
    # queuecore reads what Node wrote, options in Python names
    assert queue.get_job(b).opts["job_id"] == "custom-b"  # type: ignore[union-attr]
    assert queue.get_job(c).opts["lifo"] is True  # type: ignore[union-attr]
    assert queue.get_job(d).priority == 7  # type: ignore[union-attr]
    assert queue.get_job(f).timestamp == now - 60_000  # type: ignore[union-attr]
    assert queue.get_job(g).get_state() == "delayed"  # type: ignore[union-attr]
    assert queue.get_job(d).get_state() == "prioritized"  # type: ignore[union-attr]
    node_waiting, node_prioritized = node_queue.ops([
        {"op": "getJobs", "types": ["waiting"], "asc": True},
        {"op": "getJobs", "types": ["prioritized"], "asc": True},
    ])
    assert node_waiting == [c, a, b, f]
    assert node_prioritized == [e, d]

    order: list[str] = []

    def processor(job: Job) -> dict[str, Any]:
        order.append(job.id)
        return {"double": job.data["n"] * 2, "name": job.name}

    qc_worker(processor)
    wait_for(counts_reach(queue, completed=7), what="7 completed jobs")
    # LIFO first, then FIFO, then by priority; the delayed job when due
    assert [i for i in order if i != g] == [c, a, b, f, e, d]
    assert sorted(order) == sorted(ids)

    node_jobs = node_queue.ops([{"op": "getJob", "id": i} for i in ids])
    for job_id, node_job in zip(ids, node_jobs, strict=True):
        job = queue.get_job(job_id)
        assert_same_job(node_job, job, "completed")
        assert node_job["returnvalue"] == {"double": node_job["data"]["n"] * 2,
                                           "name": node_job["name"]}
        assert node_job["attemptsMade"] == 1
        assert node_job["attemptsStarted"] == 1
        assert node_job["processedOn"] <= node_job["finishedOn"]
        assert node_job["failedReason"] is None
    by_id = dict(zip(ids, node_jobs, strict=True))
    assert by_id[f]["timestamp"] == now - 60_000
    assert by_id[g]["opts"]["delay"] == 400
    assert by_id[g]["processedOn"] >= by_id[g]["timestamp"] + 400
    assert by_id[d]["priority"] == 7
    assert by_id[c]["opts"]["lifo"] is True


def test_fails_once_then_succeeds_with_fixed_backoff(queue: Queue, node_queue: NodeQueue,
                                                     qc_worker) -> None:
    job_id = node_queue.op("add", name="flaky", data={"k": "v"},
                           opts={"attempts": 3, "backoff": {"type": "fixed", "delay": 300}})
    calls: list[tuple[int, int]] = []

    def processor(job: Job) -> str:
        calls.append((job.attempts_made, int(time.time() * 1000)))
        if job.attempts_made == 0:
            raise RuntimeError("first attempt fails")
        return "second time lucky"

    qc_worker(processor)
    wait_for(lambda: finished(queue, job_id), what="the flaky job to finish")
    assert [made for made, _ in calls] == [0, 1]
    assert calls[1][1] - calls[0][1] >= 300  # the fixed backoff was waited

    node_job = node_queue.op("getJob", id=job_id)
    assert_same_job(node_job, queue.get_job(job_id), "completed")
    assert node_job["returnvalue"] == "second time lucky"
    assert node_job["attemptsMade"] == 2
    assert node_job["attemptsStarted"] == 2
    assert node_job["delay"] == 0  # reset when the retry was promoted
    # the failed attempt left its reason and stack trace
    assert node_job["failedReason"] == "first attempt fails"
    assert len(node_job["stacktrace"]) == 1
    assert "RuntimeError: first attempt fails" in node_job["stacktrace"][0]
    assert node_job["finishedOn"] >= node_job["processedOn"] >= calls[1][1] - 5


def test_always_fails_with_exponential_backoff(queue: Queue, node_queue: NodeQueue,
                                               qc_worker) -> None:
    job_id = node_queue.op("add", name="doomed", data={},
                           opts={"attempts": 3,
                                 "backoff": {"type": "exponential", "delay": 100}})
    starts: list[int] = []

    def processor(job: Job) -> None:
        starts.append(int(time.time() * 1000))
        raise ValueError(f"attempt {job.attempts_made + 1} failed")

    qc_worker(processor)
    wait_for(lambda: finished(queue, job_id), what="the doomed job to fail")
    assert len(starts) == 3
    assert starts[1] - starts[0] >= 100  # 2^0 * 100
    assert starts[2] - starts[1] >= 200  # 2^1 * 100

    node_job = node_queue.op("getJob", id=job_id)
    assert_same_job(node_job, queue.get_job(job_id), "failed")
    assert node_job["failedReason"] == "attempt 3 failed"
    assert node_job["attemptsMade"] == 3
    assert node_job["attemptsStarted"] == 3
    assert node_job["delay"] == 0  # reset when the last retry was promoted
    assert node_job["returnvalue"] is None
    assert len(node_job["stacktrace"]) == 3
    assert all("ValueError" in trace for trace in node_job["stacktrace"])
    assert node_job["finishedOn"] >= node_job["processedOn"]
    failed_ids = node_queue.op("getJobs", types=["failed"])
    assert failed_ids == [job_id]


def test_fails_without_attempts(queue: Queue, node_queue: NodeQueue, qc_worker) -> None:
    job_id = node_queue.op("add", name="once", data={"x": 1})

    def processor(job: Job) -> None:
        raise KeyError("missing thing")

    qc_worker(processor)
    wait_for(lambda: finished(queue, job_id), what="the job to fail")
    node_job = node_queue.op("getJob", id=job_id)
    assert_same_job(node_job, queue.get_job(job_id), "failed")
    assert node_job["failedReason"] == "'missing thing'"
    assert node_job["attemptsMade"] == 1
    assert node_job["finishedOn"] is not None
    assert len(node_job["stacktrace"]) == 1


@pytest.mark.parametrize(("option", "kept"), [
    (True, 0),
    (False, 4),
    (2, 2),
    ({"age": 3600, "count": 1}, 1),
    ({"age": 3600}, 4),
])
def test_remove_on_complete(queue: Queue, node_queue: NodeQueue, qc_worker, option: Any,
                            kept: int) -> None:
    ids = node_queue.ops([{"op": "add", "name": "r", "data": {"i": i},
                           "opts": {"removeOnComplete": option}} for i in range(4)])
    done = threading.Semaphore(0)

    def processor(job: Job) -> int:
        done.release()
        return job.data["i"]

    qc_worker(processor)
    for _ in ids:
        assert done.acquire(timeout=10)
    wait_for(lambda: queue.get_job_counts("active", "waiting") == {"active": 0, "waiting": 0},
               what="all jobs finished")
    wait_for(lambda: queue.get_job(ids[-1]) is None or queue.get_job(ids[-1]).finished_on,
               what="the last job finished")
    expected = ids[len(ids) - kept:] if kept else []
    node_completed, node_counts = node_queue.ops([
        {"op": "getJobs", "types": ["completed"], "asc": True},
        {"op": "getJobCounts", "types": ["completed"]},
    ])
    assert node_completed == expected
    assert node_counts == {"completed": kept}
    assert [j.id for j in queue.get_jobs("completed", asc=True)] == expected
    # removed jobs are gone for both
    gone = node_queue.ops([{"op": "getJob", "id": i} for i in ids[: len(ids) - kept]])
    assert gone == [None] * (len(ids) - kept)
    assert all(queue.get_job(i) is None for i in ids[: len(ids) - kept])


@pytest.mark.parametrize(("option", "kept"), [
    (True, 0),
    (False, 4),
    (3, 3),
    ({"age": 3600, "count": 2}, 2),
])
def test_remove_on_fail(queue: Queue, node_queue: NodeQueue, qc_worker, option: Any,
                        kept: int) -> None:
    ids = node_queue.ops([{"op": "add", "name": "r", "data": {"i": i},
                           "opts": {"removeOnFail": option}} for i in range(4)])

    def processor(job: Job) -> None:
        raise RuntimeError(f"no {job.data['i']}")

    qc_worker(processor)
    wait_for(lambda: queue.get_job_counts("waiting", "active") == {"waiting": 0, "active": 0}
               and (kept == 0 or queue.get_job_counts("failed")["failed"] == kept),
               what="all jobs failed")
    time.sleep(0.2)
    expected = ids[len(ids) - kept:] if kept else []
    node_failed = node_queue.op("getJobs", types=["failed"], asc=True)
    assert node_failed == expected
    assert [j.id for j in queue.get_jobs("failed", asc=True)] == expected
    for job_id in expected:
        node_job = node_queue.op("getJob", id=job_id)
        assert_same_job(node_job, queue.get_job(job_id), "failed")
    assert all(queue.get_job(i) is None for i in ids[: len(ids) - kept])


def test_keep_logs(queue: Queue, node_queue: NodeQueue, qc_worker) -> None:
    job_id = node_queue.op("add", name="logger", data={}, opts={"keepLogs": 2})
    assert queue.get_job(job_id).opts["keep_logs"] == 2  # type: ignore[union-attr]

    def processor(job: Job) -> str:
        for i in range(5):
            job.log(f"line {i}")
        return "logged"

    qc_worker(processor)
    wait_for(lambda: finished(queue, job_id), what="the job to complete")
    node_logs = node_queue.op("getJobLogs", id=job_id)
    assert node_logs == {"logs": ["line 3", "line 4"], "count": 2}
    assert queue.get_job_logs(job_id) == node_logs
    node_job = node_queue.op("getJob", id=job_id)
    assert node_job["opts"]["keepLogs"] == 2
    assert_same_job(node_job, queue.get_job(job_id), "completed")


def test_retry_without_backoff_and_lifo(queue: Queue, node_queue: NodeQueue,
                                        qc_worker) -> None:
    # no backoff: a failed attempt goes straight back to wait (at the head for lifo)
    flaky, other = node_queue.ops([
        {"op": "add", "name": "flaky", "data": {}, "opts": {"attempts": 2, "lifo": True}},
        {"op": "add", "name": "other", "data": {}},
    ])
    order: list[str] = []

    def processor(job: Job) -> int:
        order.append(job.id)
        if job.id == flaky and job.attempts_made == 0:
            raise RuntimeError("once")
        return job.attempts_made

    qc_worker(processor)
    wait_for(lambda: finished(queue, flaky) and finished(queue, other),
               what="both jobs to finish")
    assert order == [flaky, flaky, other]  # the lifo retry runs before the waiting job
    node_job = node_queue.op("getJob", id=flaky)
    assert_same_job(node_job, queue.get_job(flaky), "completed")
    assert node_job["returnvalue"] == 1
    assert node_job["attemptsMade"] == 2
    assert node_job["failedReason"] == "once"


def test_data_and_duplicate_ids(queue: Queue, node_queue: NodeQueue) -> None:
    data = {"text": "héllo ✓ / \"quoted\" \\ back", "nested": {"list": [1, 2.5, None, True]},
            "big": 2**52, "empty": {}, "emptyList": []}
    first, again = node_queue.ops([
        {"op": "add", "name": "ünïcode", "data": data, "opts": {"jobId": "dup"}},
        {"op": "add", "name": "other", "data": {"x": 1}, "opts": {"jobId": "dup"}},
    ])
    assert first == again == "dup"
    job = queue.get_job("dup")
    assert job is not None
    assert job.name == "ünïcode"
    assert job.data == data  # the duplicate add changed nothing
    # the same from the queuecore side, read by Node
    added = queue.add("ëcho", data, job_id="qc-dup")
    duplicate = queue.add("other", {"y": 2}, job_id="qc-dup")
    assert added.id == duplicate.id == "qc-dup"
    node_job = node_queue.op("getJob", id="qc-dup")
    assert node_job["name"] == "ëcho"
    assert node_job["data"] == data
    assert_same_job(node_job, queue.get_job("qc-dup"), "waiting")
    assert queue.get_job_counts("waiting") == {"waiting": 2}


def test_asyncio_worker(queue: Queue, queue_name: str, redis_url: str,
                        node_queue: NodeQueue) -> None:
    """The asyncio form (``await worker.arun()`` / ``aclose()``) with an async processor."""
    ids = node_queue.ops([
        {"op": "add", "name": "a", "data": {"n": 1}},
        {"op": "add", "name": "b", "data": {"n": 2}, "opts": {"priority": 1}},
        {"op": "add", "name": "c", "data": {"n": 3}, "opts": {"attempts": 2}},
    ])

    async def processor(job: Job) -> dict[str, Any]:
        await job.aupdate_progress({"n": job.data["n"]})
        if job.name == "c" and job.attempts_made == 0:
            raise RuntimeError("async failure")
        await asyncio.sleep(0.01)
        return {"async": job.data["n"]}

    async def main() -> None:
        worker = Worker(queue_name, processor, connection=redis_url, concurrency=2,
                        drain_delay=1.0)
        running = asyncio.ensure_future(worker.arun())
        try:
            async with asyncio.timeout(10):
                while (await queue.aget_job_counts("completed"))["completed"] < 3:
                    await asyncio.sleep(0.05)
        finally:
            await asyncio.wait_for(worker.aclose(), 10)
            await asyncio.wait_for(running, 10)
            await queue.aclose()

    asyncio.run(main())
    node_jobs = node_queue.ops([{"op": "getJob", "id": i} for i in ids])
    for job_id, node_job in zip(ids, node_jobs, strict=True):
        assert_same_job(node_job, queue.get_job(job_id), "completed")
        assert node_job["returnvalue"] == {"async": node_job["data"]["n"]}
        assert node_job["progress"] == {"n": node_job["data"]["n"]}
    assert node_jobs[2]["attemptsMade"] == 2
    assert node_jobs[2]["failedReason"] == "async failure"
