"""Stalled jobs across implementations: a worker of one side dies holding a
job; the other side's stalled checker gives the job back (or fails it when it
stalled too often), and both sides read the same job."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from queuecore import Job, Queue
from tests.helpers import wait_for

from .compare import assert_same_job
from .helpers import ROOT, NodeQueue

pytestmark = pytest.mark.interop

STALLED_REASON = "job stalled more than allowable limit"


def recovered(queue: Queue, job_id: str, state: str) -> Any:
    def check() -> bool:
        job = queue.get_job(job_id)
        return job is not None and job.get_state() == state
    return check


@pytest.mark.parametrize(("max_stalled", "state"), [(1, "completed"), (0, "failed")])
def test_queuecore_recovers_job_of_dead_node_worker(max_stalled: int, state: str,
                                                    queue: Queue, node_queue: NodeQueue,
                                                    node_worker: Any, node_events: Any,
                                                    qc_worker: Any) -> None:
    events = node_events()
    job_id = node_queue.op("add", name="block", data={"payload": 1})
    # every worker runs the stalled check at most once per stalledInterval of the
    # last one that ran it (the stalled-check key): keep them all short
    dying = node_worker({"lockDuration": 800, "stalledInterval": 250})
    dying.wait_event("active", job_id)
    dying.proc.kill()  # dies holding the job: its lock expires in 800 ms
    dying.proc.wait(5)
    assert queue.get_job(job_id).get_state() == "active"  # type: ignore[union-attr]

    stalled: list[str] = []
    ran: list[str] = []

    def processor(job: Job) -> str:
        ran.append(job.id)
        return "recovered by queuecore"

    qc_worker(processor, stalled_interval=250, lock_duration=1000,
              max_stalled_count=max_stalled,
              on={"stalled": lambda jid, prev: stalled.append(jid)})
    wait_for(recovered(queue, job_id, state), timeout=8, what=f"the job to be {state}")
    assert stalled == [job_id]
    events.wait_event("stalled")
    assert [e["jobId"] for e in events.events("stalled")] == [job_id]
    job = queue.get_job(job_id)
    assert job is not None
    assert job.stalled_counter == 1
    assert job.attempts_started == 2  # a deferred failure is fetched (started) too
    if state == "completed":
        assert ran == [job_id]
        assert job.returnvalue == "recovered by queuecore"
    else:
        assert ran == []
        assert job.failed_reason == STALLED_REASON
        assert job.deferred_failure is None  # cleared once the job is failed
    assert_same_job(node_queue.op("getJob", id=job_id), job, state)


@pytest.mark.parametrize(("max_stalled", "state"), [(1, "completed"), (0, "failed")])
def test_node_recovers_job_of_dead_queuecore_worker(max_stalled: int, state: str,
                                                    queue: Queue, queue_name: str,
                                                    redis_url: str, node_queue: NodeQueue,
                                                    node_worker: Any) -> None:
    job = queue.add("echo", {"payload": 2})
    dying = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("crash_worker.py")), redis_url,
         queue_name, "800"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})  # this checkout's queuecore
    try:
        assert dying.stdout is not None
        ready, _, _ = select.select([dying.stdout], [], [], 10)
        assert ready, "the queuecore worker process did not take the job"
        assert dying.stdout.readline().strip() == f"active {job.id}"
        lock = queue.connection.sync_client.get(queue.keys.job(job.id) + ":lock")
        assert lock and lock.split(":")[-1].isdigit()
    finally:
        dying.kill()
        dying.wait(5)
    assert queue.get_job(job.id).get_state() == "active"  # type: ignore[union-attr]

    rescuer = node_worker({"stalledInterval": 250, "lockDuration": 1000,
                           "maxStalledCount": max_stalled})
    wait_for(recovered(queue, job.id, state), timeout=8, what=f"the job to be {state}")
    recovered_job = queue.get_job(job.id)
    assert recovered_job is not None
    assert recovered_job.stalled_counter == 1
    if state == "completed":
        assert recovered_job.returnvalue == {"echo": {"payload": 2}, "by": "node",
                                             "attemptsMade": 0}
        assert recovered_job.attempts_started == 2
    else:
        assert recovered_job.failed_reason == STALLED_REASON
        assert rescuer.events("completed") == []
    assert_same_job(node_queue.op("getJob", id=job.id), recovered_job, state)
