"""Sandboxed processors: real child processes, crashes included."""

from __future__ import annotations

import os
from typing import Any

import pytest

from queuecore import InvalidOptionError, Queue, Worker
from tests.helpers import wait_for


def sandboxed(queue: Queue, redis_url: str, processor: str, **options: Any) -> Worker:
    return Worker(queue.name, processor, connection=redis_url, sandboxed=True, **options)


def test_jobs_run_in_child_processes(queue: Queue, redis_url: str, run_worker: Any) -> None:
    jobs = [queue.add("cpu", {"ms": 5}) for _ in range(6)]
    run_worker(sandboxed(queue, redis_url, "tests.sandbox_jobs.cpu", processes=2))
    wait_for(lambda: queue.get_job_counts("completed")["completed"] == 6, 30)
    pids = {queue.get_job(j.id).returnvalue["pid"] for j in jobs}  # type: ignore[union-attr]
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_progress_and_logs_from_the_child(queue: Queue, redis_url: str, r: Any,
                                          run_worker: Any) -> None:
    job = queue.add("p")
    run_worker(sandboxed(queue, redis_url, "tests.sandbox_jobs.with_progress", processes=1))
    wait_for(lambda: job.get_state() == "completed", 30)
    done = queue.get_job(job.id)
    assert done is not None and done.progress == 100 and done.returnvalue == "done"
    assert queue.get_job_logs(job.id)["logs"] == ["half way, in the child"]
    progress = [e["data"] for _, e in r.xrange(queue.keys["events"]) if e["event"] == "progress"]
    assert progress == ["50", "100"]


@pytest.mark.parametrize(("how", "reason"), [
    ("segfault", "sandboxed process was killed by SIGSEGV while running the job"),
    ("exit", "sandboxed process exited with code 3 while running the job (os._exit or "
             "sys.exit in the processor?)"),
    ("hang", "sandboxed processor timed out after 1 s; its process was killed"),
    ("raise", "bad value in the child"),
    ("unrecoverable", "give up"),
])
def test_a_crashing_child_fails_only_its_job(how: str, reason: str, queue: Queue,
                                             redis_url: str, run_worker: Any) -> None:
    bad = queue.add("crash", {"how": how}, attempts=1)
    good = queue.add("cpu", {"ms": 1})
    after = queue.add("cpu", {"ms": 1})
    run_worker(sandboxed(queue, redis_url, "tests.sandbox_jobs.crash", processes=1,
                         timeout=1))
    wait_for(lambda: bad.get_state() == "failed", 30)
    failed = queue.get_job(bad.id)
    assert failed is not None and failed.failed_reason == reason
    if how == "raise":
        assert "ValueError: bad value in the child" in failed.stacktrace[-1]
        assert "sandbox_jobs.py" in failed.stacktrace[-1]  # the child's own traceback
    # the pool goes on (with a fresh child where one died) for the next jobs
    wait_for(lambda: good.get_state() == after.get_state() == "failed", 30)


def test_sandboxed_needs_an_importable_processor(redis_url: str) -> None:
    with pytest.raises(InvalidOptionError, match="module-level function"):
        Worker("q", lambda job: None, connection=redis_url, sandboxed=True)
