"""Cancelling a running job (Queue.cancel_job): the worker running it, in
this process or another, hears it through Redis; async processors get
asyncio.CancelledError, sync ones see job.is_cancelled, sandboxed ones lose
their child; the job fails with reason "cancelled" unless the processor turns
the cancellation into an ordinary (retried) error."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis

from queuecore import (
    Job,
    JobCancelledError,
    JobNotFoundError,
    JobNotInStateError,
    Queue,
    Worker,
)
from tests.helpers import WorkerProcess, running_worker, wait_for


def failed_reason(queue: Queue, job_id: str) -> str | None:
    job = queue.get_job(job_id)
    assert job is not None
    return job.failed_reason if job.get_state() == "failed" else None


def test_async_processor_gets_cancelled_error(queue: Queue, redis_url: str) -> None:
    seen: list[str] = []

    async def slow(job: Job) -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return "done"

    job = queue.add("slow", {}, attempts=3)
    with running_worker(queue.name, slow, connection=redis_url) as worker:
        cancelled: list[tuple[str, str]] = []
        worker.on("cancelled", lambda j, reason: cancelled.append((j.id, reason)))
        wait_for(lambda: job.get_state() == "active")
        queue.cancel_job(job.id, "operator asked")
        wait_for(lambda: failed_reason(queue, job.id) is not None, timeout=5)
    assert failed_reason(queue, job.id) == "cancelled: operator asked"
    assert seen == ["cancelled"] and cancelled == [(job.id, "operator asked")]
    done = queue.get_job(job.id)
    assert done is not None and done.attempts_made == 1  # no retry despite attempts=3


def test_a_processor_may_turn_a_cancellation_into_a_retry(queue: Queue, redis_url: str) -> None:
    async def stubborn(job: Job) -> str:
        if job.attempts_made == 0:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                raise RuntimeError("interrupted, try again") from None
        return "second time lucky"

    job = queue.add("stubborn", {}, attempts=2)
    with running_worker(queue.name, stubborn, connection=redis_url):
        wait_for(lambda: job.get_state() == "active")
        queue.cancel_job(job.id)
        wait_for(lambda: job.get_state() == "completed", timeout=5)
    done = job.reload()
    assert done.returnvalue == "second time lucky" and done.attempts_made == 2
    assert not done.is_cancelled  # the request ended with the attempt it hit


@pytest.mark.parametrize("mode", ["sleep-async", "poll-sync"])
def test_cancel_reaches_a_worker_in_another_process(mode: str, queue: Queue,
                                                    redis_url: str) -> None:
    job = queue.add("long", {})
    with WorkerProcess(redis_url, queue.name, mode=mode, lock_duration=30_000) as proc:
        proc.wait_line(f"active {job.id}")
        queue.cancel_job(job.id, "from the dashboard")
        line = proc.wait_line(f"failed {job.id}", timeout=5)
    assert "cancelled: from the dashboard" in line
    assert failed_reason(queue, job.id) == "cancelled: from the dashboard"


def test_sandboxed_child_is_stopped(queue: Queue, redis_url: str) -> None:
    job = queue.add("sleepy", {})
    with running_worker(queue.name, "tests.sandbox_jobs.sleepy", connection=redis_url,
                        sandboxed=True, processes=1) as worker:
        wait_for(lambda: job.get_state() == "active")
        assert worker.pool is not None
        first = worker.pool._children[0].process.pid
        queue.cancel_job(job.id)
        wait_for(lambda: failed_reason(queue, job.id) is not None, timeout=10)
        assert failed_reason(queue, job.id) == "cancelled"
        # the child running it was stopped and replaced
        wait_for(lambda: worker.pool._children[0].process.pid != first
                 and worker.pool._children[0].alive())


def test_a_cancelled_job_recovered_as_stalled_is_not_run_again(queue: Queue, redis_url: str,
                                                               r: redis.Redis) -> None:
    job = queue.add("orphan", {})
    with WorkerProcess(redis_url, queue.name, mode="block", lock_duration=1000,
                       stalled_interval=500) as proc:
        proc.wait_line(f"active {job.id}")
        proc.kill()  # dies before it hears anything
    r.hset(queue.keys.job(job.id), "cancelled", "")  # as cancel_job leaves it
    ran: list[str] = []
    with running_worker(queue.name, lambda j: ran.append(j.id), connection=redis_url,
                        stalled_interval=500, lock_duration=1000):
        wait_for(lambda: failed_reason(queue, job.id) is not None, timeout=10)
    assert ran == [] and failed_reason(queue, job.id) == "cancelled"


def test_retrying_a_cancelled_job_runs_it(queue: Queue, redis_url: str) -> None:
    job = queue.add("again", {})

    async def slow_once(j: Job) -> str:
        if j.attempts_made == 0 and not j.data.get("quick"):
            await asyncio.sleep(30)
        return "ran"

    with running_worker(queue.name, slow_once, connection=redis_url):
        wait_for(lambda: job.get_state() == "active")
        queue.cancel_job(job.id)
        wait_for(lambda: job.get_state() == "failed", timeout=5)
        job.reload().retry()
        wait_for(lambda: job.get_state() == "completed", timeout=5)


def test_only_active_jobs_can_be_cancelled(queue: Queue, r: redis.Redis) -> None:
    job = queue.add("waiting", {})
    with pytest.raises(JobNotInStateError):
        queue.cancel_job(job.id)
    with pytest.raises(JobNotFoundError):
        queue.cancel_job("nope")
    assert r.hget(queue.keys.job(job.id), "cancelled") is None
    with pytest.raises(Exception, match="reason"):
        queue.cancel_job(job.id, reason=5)  # type: ignore[arg-type]


def test_raise_if_cancelled() -> None:
    job = Job.__new__(Job)
    job.cancel_reason = None
    job.raise_if_cancelled()
    job.cancel_reason = "stop"
    with pytest.raises(JobCancelledError, match="cancelled: stop"):
        job.raise_if_cancelled()
    assert job.is_cancelled


def test_worker_cancel_any(queue: Queue, redis_url: str) -> None:
    """Two workers: only the one running the job reacts."""
    async def slow(job: Job) -> Any:
        await asyncio.sleep(30)

    jobs = [queue.add("slow", {"i": i}) for i in range(2)]
    with running_worker(queue.name, slow, connection=redis_url), \
            running_worker(queue.name, slow, connection=redis_url):
        wait_for(lambda: all(j.get_state() == "active" for j in jobs))
        queue.cancel_job(jobs[0].id)
        wait_for(lambda: jobs[0].get_state() == "failed", timeout=5)
        assert jobs[1].get_state() == "active"
        queue.cancel_job(jobs[1].id)
        wait_for(lambda: jobs[1].get_state() == "failed", timeout=5)
    assert isinstance(Worker, type)
