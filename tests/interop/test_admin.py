"""6. Queue administration across implementations: Node's job.retry,
retryJobs, promoteJobs, promote, clean, drain and obliterate on a queue a
queuecore Worker consumes, and queuecore's equivalents on a queue of jobs
Node added, consumed by a Node Worker."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from queuecore import Queue, QueueCoreError
from tests.helpers import wait_for

from .compare import assert_same_job
from .helpers import NodeError, NodeQueue, queuecore_processor

pytestmark = pytest.mark.interop

NODE_NAMES = {"job_id": "jobId", "delay": "delay", "priority": "priority",
              "attempts": "attempts", "lifo": "lifo"}


class Side:
    """One implementation: adds jobs, runs a worker, or administers the queue."""

    def __init__(self, kind: str, queue: Queue, node_queue: NodeQueue, node_worker: Any,
                 qc_worker: Any) -> None:
        self.kind = kind
        self.queue = queue
        self.node = node_queue
        self.node_worker = node_worker
        self.qc_worker = qc_worker
        self.worker: Any = None

    # -- producing and consuming -------------------------------------------------------

    def add(self, name: str, data: dict[str, Any] | None = None, **opts: Any) -> str:
        if self.kind == "queuecore":
            return self.queue.add(name, data or {}, **opts).id
        return self.node.op("add", name=name, data=data or {},
                            opts={NODE_NAMES[k]: v for k, v in opts.items()})

    def start_worker(self) -> None:
        if self.kind == "queuecore":
            self.worker = self.qc_worker(queuecore_processor(self.qc_worker.release))
        else:
            self.worker = self.node_worker()

    def release(self) -> None:
        if self.kind == "queuecore":
            self.qc_worker.release.set()
        else:
            self.worker.send("release")

    # -- administering -----------------------------------------------------------------

    def retry(self, job_id: str, state: str = "failed", reset: bool = False) -> None:
        if self.kind == "queuecore":
            job = self.queue.get_job(job_id)
            assert job is not None
            job.retry(state, reset_attempts_made=reset)
        else:
            self.node.op("retryJob", id=job_id, state=state, opts={"resetAttemptsMade": reset})

    def retry_jobs(self, state: str = "failed") -> None:
        if self.kind == "queuecore":
            self.queue.retry_jobs(state)
        else:
            self.node.op("retryJobs", opts={"state": state})

    def promote_jobs(self) -> None:
        if self.kind == "queuecore":
            self.queue.promote_jobs()
        else:
            self.node.op("promoteJobs")

    def promote(self, job_id: str) -> None:
        if self.kind == "queuecore":
            job = self.queue.get_job(job_id)
            assert job is not None
            job.promote()
        else:
            self.node.op("promote", id=job_id)

    def clean(self, grace: int, limit: int, state: str) -> list[str]:
        if self.kind == "queuecore":
            return self.queue.clean(grace, limit, state)
        return self.node.op("clean", grace=grace, limit=limit, type=state)

    def drain(self, delayed: bool = False) -> None:
        if self.kind == "queuecore":
            self.queue.drain(delayed)
        else:
            self.node.op("drain", delayed=delayed)

    def pause(self) -> None:
        if self.kind == "queuecore":
            self.queue.pause()
        else:
            self.node.op("pause")

    def obliterate(self, force: bool = False) -> None:
        if self.kind == "queuecore":
            self.queue.obliterate(force=force)
        else:
            self.node.op("obliterate", opts={"force": force})


# admin: the side that administers; the other side adds the jobs and consumes them
DIRECTIONS = [("node", "queuecore"), ("queuecore", "node")]


@pytest.fixture(params=DIRECTIONS, ids=["node-admin", "queuecore-admin"])
def sides(request: pytest.FixtureRequest, queue: Queue, node_queue: NodeQueue,
          node_worker: Any, qc_worker: Any) -> tuple[Side, Side]:
    admin, consumer = request.param
    return (Side(admin, queue, node_queue, node_worker, qc_worker),
            Side(consumer, queue, node_queue, node_worker, qc_worker))


def state_of(queue: Queue, job_id: str) -> str | None:
    job = queue.get_job(job_id)
    return job.get_state() if job else None


def wait_state(queue: Queue, job_id: str, state: str, timeout: float = 10.0) -> None:
    wait_for(lambda: state_of(queue, job_id) == state, timeout=timeout,
               what=f"job {job_id} to be {state} (is {state_of(queue, job_id)})")


def test_retry_one_job(sides: tuple[Side, Side], queue: Queue, node_queue: NodeQueue) -> None:
    admin, consumer = sides
    flaky = consumer.add("flaky", {"failTimes": 1})
    doomed = consumer.add("fail", {"message": "still broken"})
    fine = consumer.add("echo", {"v": 1})
    consumer.start_worker()
    for job_id, state in ((flaky, "failed"), (doomed, "failed"), (fine, "completed")):
        wait_state(queue, job_id, state)
    first_run = queue.get_job(fine)
    assert first_run is not None

    # a retried failed job runs again; failedReason and finishedOn are cleared on retry
    admin.retry(flaky)
    wait_state(queue, flaky, "completed")
    job = queue.get_job(flaky)
    assert job is not None
    assert job.attempts_made == 2 and job.attempts_started == 2
    assert job.failed_reason is None
    assert job.returnvalue == {"echo": {"failTimes": 1}, "by": consumer.kind,
                               "attemptsMade": 1}
    assert_same_job(node_queue.op("getJob", id=flaky), job, "completed")

    # resetAttemptsMade starts the count again
    admin.retry(doomed, reset=True)
    wait_for(lambda: queue.get_job(doomed).attempts_started == 2  # type: ignore[union-attr]
               and state_of(queue, doomed) == "failed", what="the doomed job to fail again")
    job = queue.get_job(doomed)
    assert job is not None and job.attempts_made == 1
    assert job.failed_reason == "still broken"
    assert_same_job(node_queue.op("getJob", id=doomed), job, "failed")

    # a completed job can be retried as well
    admin.retry(fine, "completed")
    wait_for(lambda: queue.get_job(fine).attempts_made == 2,  # type: ignore[union-attr]
               what="the completed job to run again")
    wait_state(queue, fine, "completed")
    job = queue.get_job(fine)
    assert job is not None and job.processed_on >= first_run.finished_on  # type: ignore[operator]
    assert_same_job(node_queue.op("getJob", id=fine), job, "completed")

    # retrying from the wrong state is refused on both sides
    with pytest.raises((NodeError, QueueCoreError)):
        admin.retry(fine, "failed")
    assert state_of(queue, fine) == "completed"


def test_retry_jobs_and_promote(sides: tuple[Side, Side], queue: Queue,
                                node_queue: NodeQueue) -> None:
    admin, consumer = sides
    flaky = [consumer.add("flaky", {"i": i}) for i in range(3)]
    fine = [consumer.add("echo", {"i": i}) for i in range(2)]
    delayed = [consumer.add("echo", {"d": i}, delay=60_000) for i in range(2)]
    single = consumer.add("echo", {"single": True}, delay=60_000)
    prioritized_later = consumer.add("echo", {"p": 1}, delay=60_000, priority=4)
    consumer.start_worker()
    wait_for(lambda: queue.get_job_counts("failed", "completed") ==
               {"failed": 3, "completed": 2}, what="3 failed and 2 completed")

    admin.retry_jobs("failed")
    wait_for(lambda: queue.get_job_counts("failed", "completed") ==
               {"failed": 0, "completed": 5}, what="the failed jobs to complete on retry")
    for job_id in flaky:
        job = queue.get_job(job_id)
        assert job is not None and job.attempts_made == 2 and job.failed_reason is None
        assert_same_job(node_queue.op("getJob", id=job_id), job, "completed")

    admin.retry_jobs("completed")
    wait_for(lambda: all(queue.get_job(i).attempts_made == 2  # type: ignore[union-attr]
                           for i in fine)
               and queue.get_job_counts("completed")["completed"] == 5,
               what="the completed jobs to run again")

    admin.promote(single)
    wait_state(queue, single, "completed")
    assert queue.get_job_counts("delayed")["delayed"] == 3
    admin.promote_jobs()
    wait_for(lambda: queue.get_job_counts("delayed", "completed") ==
               {"delayed": 0, "completed": 9}, what="the promoted jobs to complete")
    for job_id in [*delayed, single, prioritized_later]:
        job = queue.get_job(job_id)
        assert job is not None
        assert job.finished_on - job.timestamp < 30_000  # type: ignore[operator]
        assert_same_job(node_queue.op("getJob", id=job_id), job, "completed")
    # promoting a job that is not delayed is refused
    with pytest.raises((NodeError, QueueCoreError)):
        admin.promote(single)


def test_clean(sides: tuple[Side, Side], queue: Queue, node_queue: NodeQueue) -> None:
    admin, consumer = sides
    completed = [consumer.add("echo", {"i": i}) for i in range(3)]
    failed = [consumer.add("fail", {"i": i}) for i in range(2)]
    consumer.start_worker()
    wait_for(lambda: queue.get_job_counts("failed", "completed") ==
               {"failed": 2, "completed": 3}, what="the finished jobs")
    admin.pause()  # so that new jobs stay waiting
    waiting = [consumer.add("echo", {"w": i}) for i in range(2)]
    prioritized = [consumer.add("echo", {"p": i}, priority=3) for i in range(2)]
    delayed = [consumer.add("echo", {"d": i}, delay=60_000) for i in range(2)]
    time.sleep(0.01)

    assert admin.clean(60_000, 0, "completed") == []  # all younger than the grace
    # the oldest first, as many as the limit
    oldest = admin.clean(0, 2, "completed")
    assert oldest == completed[:2]
    assert [j.id for j in queue.get_jobs("completed")] == completed[2:]
    assert node_queue.op("getJobs", types=["completed"]) == completed[2:]
    assert sorted(admin.clean(0, 0, "failed")) == sorted(failed)
    assert sorted(admin.clean(0, 0, "wait")) == sorted(waiting)
    assert sorted(admin.clean(0, 0, "prioritized")) == sorted(prioritized)
    assert sorted(admin.clean(0, 0, "delayed")) == sorted(delayed)

    removed = completed[:2] + failed + waiting + prioritized + delayed
    assert node_queue.ops([{"op": "getJob", "id": i} for i in removed]) == [None] * len(removed)
    assert all(queue.get_job(i) is None for i in removed)
    expected = {"completed": 1, "failed": 0, "waiting": 0, "prioritized": 0, "delayed": 0,
                "active": 0}
    assert queue.get_job_counts(*expected) == expected
    assert node_queue.op("getJobCounts", types=list(expected)) == expected


def test_drain(sides: tuple[Side, Side], queue: Queue, node_queue: NodeQueue) -> None:
    admin, consumer = sides
    blocker = consumer.add("block")
    consumer.start_worker()
    wait_state(queue, blocker, "active")
    waiting = [consumer.add("echo", {"w": i}) for i in range(2)]
    prioritized = consumer.add("echo", {"p": 1}, priority=2)
    delayed = [consumer.add("echo", {"d": i}, delay=60_000) for i in range(2)]

    admin.drain()
    expected = {"active": 1, "waiting": 0, "prioritized": 0, "delayed": 2}
    assert queue.get_job_counts(*expected) == expected
    assert node_queue.op("getJobCounts", types=list(expected)) == expected
    assert all(queue.get_job(i) is None for i in [*waiting, prioritized])
    assert node_queue.op("getJobs", types=["delayed"], asc=True) == delayed

    admin.drain(delayed=True)
    expected["delayed"] = 0
    assert queue.get_job_counts(*expected) == expected
    assert node_queue.op("getJobCounts", types=list(expected)) == expected
    assert all(queue.get_job(i) is None for i in delayed)

    consumer.release()
    wait_state(queue, blocker, "completed")
    assert queue.get_job_counts("completed", "waiting") == {"completed": 1, "waiting": 0}


def test_obliterate(sides: tuple[Side, Side], queue: Queue, node_queue: NodeQueue,
                    r: redis.Redis) -> None:
    admin, consumer = sides
    consumer.add("echo")
    consumer.add("fail")
    consumer.start_worker()
    wait_for(lambda: queue.get_job_counts("failed", "completed") ==
               {"failed": 1, "completed": 1}, what="the finished jobs")
    blocker = consumer.add("block")
    wait_state(queue, blocker, "active")
    consumer.add("echo", {"w": 1})
    consumer.add("echo", {"d": 1}, delay=60_000)
    consumer.add("echo", {"p": 1}, priority=5)

    with pytest.raises((NodeError, QueueCoreError), match=r"(?i)active"):
        admin.obliterate()
    # refused, but the queue was paused first (as BullMQ does) and nothing removed
    assert queue.is_paused() and node_queue.op("isPaused") is True
    assert queue.get_job_counts("active", "waiting", "delayed", "prioritized") == \
        {"active": 1, "waiting": 1, "delayed": 1, "prioritized": 1}

    admin.obliterate(force=True)
    assert r.keys(f"{queue.keys.base}*") == []
    assert node_queue.op("getJobCounts") == {s: 0 for s in queue.get_job_counts()}
    assert node_queue.op("getJob", id=blocker) is None
    assert queue.get_job(blocker) is None
    consumer.release()
