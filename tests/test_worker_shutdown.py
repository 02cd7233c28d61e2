"""Graceful shutdown is the Worker's own: a plain ``Worker.run()`` process
(tests/worker_proc.py, no signal handling of its own) given SIGTERM lets its
active job finish within the grace; a second SIGTERM, or the grace running
out, gives it back to wait with no attempt counted."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from typing import Any

import pytest

from queuecore import InvalidOptionError, Job, Queue, Worker
from tests.helpers import WorkerProcess


def test_sigterm_lets_the_active_job_finish_within_the_grace(queue: Queue,
                                                             redis_url: str) -> None:
    job = queue.add("slow", {"seconds": 1.5})
    with WorkerProcess(redis_url, queue.name, mode="sleep-async", lock_duration=30_000,
                       grace=20) as proc:
        proc.wait_line(f"active {job.id}")
        assert proc.process is not None
        proc.process.send_signal(signal.SIGTERM)
        assert proc.process.wait(15) == 0
        proc.wait_line("closed")
    assert queue.get_job(job.id).get_state() == "completed"
    assert queue.get_job(job.id).returnvalue == "slept"


def test_a_second_sigterm_gives_the_active_job_back_to_wait(queue: Queue, redis_url: str,
                                                            r: Any) -> None:
    job = queue.add("slow", {"seconds": 60})
    other = queue.add("next", {"seconds": 60})  # stays in wait: no fetch once closing
    with WorkerProcess(redis_url, queue.name, mode="sleep-async", lock_duration=30_000,
                       grace=60) as proc:
        proc.wait_line(f"active {job.id}")
        assert proc.process is not None
        proc.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert proc.process.poll() is None  # still in its grace
        proc.process.send_signal(signal.SIGTERM)
        assert proc.process.wait(15) == 0
    assert queue.get_job(job.id).get_state() == "waiting"
    assert queue.get_job(job.id).attempts_made == 0
    assert not any(line.startswith(("completed", "failed")) for line in proc.lines)
    assert f"active {other.id}" not in proc.lines
    assert r.lindex(queue.keys["wait"], -1) == job.id  # the front: the next one taken


def test_the_grace_running_out_gives_the_job_back(queue: Queue, redis_url: str) -> None:
    job = queue.add("slow", {"seconds": 60})
    with WorkerProcess(redis_url, queue.name, mode="sleep-async", lock_duration=30_000,
                       grace=1) as proc:
        proc.wait_line(f"active {job.id}")
        assert proc.process is not None
        started = time.monotonic()
        proc.process.send_signal(signal.SIGTERM)
        assert proc.process.wait(15) == 0
        assert time.monotonic() - started >= 1
    assert queue.get_job(job.id).get_state() == "waiting"


def test_close_force_from_another_thread_gives_jobs_back(queue: Queue,
                                                          redis_url: str) -> None:
    started = threading.Event()

    async def sleepy(job: Job) -> Any:
        started.set()
        await asyncio.sleep(60)

    job = queue.add("slow", {})
    worker = Worker(queue.name, sleepy, redis_url)  # shutdown_grace None: no limit
    thread = threading.Thread(target=worker.run, daemon=True)  # no signal handlers there
    thread.start()
    assert started.wait(10)
    worker.close(timeout=10, force=True)
    thread.join(10)
    assert not thread.is_alive()
    assert queue.get_job(job.id).get_state() == "waiting"


def test_run_in_the_main_thread_handles_signals_while_it_runs(queue: Queue,
                                                              redis_url: str) -> None:
    during: list[Any] = []

    async def look(job: Job) -> Any:
        during.append(signal.getsignal(signal.SIGTERM))
        return "seen"

    queue.add("look", {})
    before = signal.getsignal(signal.SIGTERM)
    worker = Worker(queue.name, look, redis_url, shutdown_grace=5)
    worker.on("completed", lambda job, result: worker.close())
    worker.run()  # pytest runs tests in the main thread
    assert during and during[0] is not before and callable(during[0])
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("grace", [-1, "30", True])
def test_shutdown_grace_is_checked(grace: Any, redis_url: str) -> None:
    with pytest.raises(InvalidOptionError, match="shutdown_grace"):
        Worker("q", lambda job: None, redis_url, shutdown_grace=grace)
