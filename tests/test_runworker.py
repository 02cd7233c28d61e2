"""``manage.py runworker`` as a real process: jobs, logs, signals, grace."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from queuecore import Queue
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def names() -> dict[str, str]:
    return {"RW_FAST": f"rw-fast-{uuid.uuid4().hex[:8]}",
            "RW_SLOW": f"rw-slow-{uuid.uuid4().hex[:8]}",
            "RW_REGISTERED": f"rw-registered-{uuid.uuid4().hex[:8]}"}


@pytest.fixture
def runworker(redis_url: str, names: dict[str, str],
              tmp_path: Path) -> Iterator[Any]:
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        env = dict(os.environ, QUEUECORE_REDIS_URL=redis_url, QUEUECORE_VAR_DIR=str(tmp_path),
                   DJANGO_SETTINGS_MODULE="tests.runworker_settings", **names)
        proc = subprocess.Popen([sys.executable, "manage.py", "runworker", *args], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_help_is_queuecores_not_channels() -> None:
    out = subprocess.run([sys.executable, "manage.py", "runworker", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60).stdout
    assert "--grace" in out and "--max-jobs" in out and "--limiter" in out


def test_runs_configured_queues_and_exits_after_max_jobs(runworker: Any, redis_url: str,
                                                         names: dict[str, str]) -> None:
    queue = Queue(names["RW_FAST"], connection=redis_url)
    jobs = [queue.add("echo", {"n": n}) for n in range(3)]
    proc = runworker("--max-jobs", "3", "--log-format", "json", "-v", "2")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert [queue.get_job(j.id).returnvalue for j in jobs] == [  # type: ignore[union-attr]
        {"echo": {"n": n}} for n in range(3)]
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    done = [line for line in lines if line.get("outcome") == "completed"]
    assert {line["job_id"] for line in done} == {j.id for j in jobs}
    assert all(line["queue"] == queue.name and line["name"] == "echo" and line["attempt"] == 1
               and line["duration_ms"] >= 0 for line in done)
    assert any(line["message"].startswith("start ") for line in lines)
    queue.obliterate(force=True)


def test_registers_itself_for_get_workers(runworker: Any, redis_url: str,
                                          names: dict[str, str]) -> None:
    queue = Queue(names["RW_SLOW"], connection=redis_url)
    proc = runworker(names["RW_SLOW"], "--max-time", "3")
    workers = wait_for(lambda: queue.get_workers(), 15, what="the worker to register")
    assert workers[0]["rawname"].endswith(f":w:{os.uname().nodename}:{proc.pid}:1")
    assert (workers[0]["host"], workers[0]["pid"], workers[0]["concurrency"]) == (
        os.uname().nodename, proc.pid, 1)
    assert abs(workers[0]["started_at"] - time.time() * 1000) < 60_000
    proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_sigterm_lets_the_active_job_finish(runworker: Any, redis_url: str,
                                            names: dict[str, str]) -> None:
    queue = Queue(names["RW_SLOW"], connection=redis_url)
    job = queue.add("slow", {"seconds": 1.5})
    proc = runworker(names["RW_SLOW"], "--grace", "20")
    wait_for(lambda: job.get_state() == "active", 20, what="the job to start")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert job.get_state() == "completed"
    assert "stopping (SIGTERM)" in err
    queue.obliterate(force=True)


def test_second_signal_gives_the_job_back_to_wait(runworker: Any, redis_url: str,
                                                  names: dict[str, str]) -> None:
    queue = Queue(names["RW_SLOW"], connection=redis_url)
    job = queue.add("slow", {"seconds": 30})
    proc = runworker(names["RW_SLOW"], "--grace", "60")
    wait_for(lambda: job.get_state() == "active", 20, what="the job to start")
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)  # the first signal is handled: active jobs are being waited for
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert job.get_state() == "waiting"
    back = queue.get_job(job.id)
    assert back is not None and back.attempts_made == 0  # no attempt counted
    assert "gave 1 unfinished job(s) back to wait" in err
    queue.obliterate(force=True)


def test_grace_running_out_gives_the_job_back(runworker: Any, redis_url: str,
                                              names: dict[str, str]) -> None:
    queue = Queue(names["RW_SLOW"], connection=redis_url)
    job = queue.add("slow", {"seconds": 30})
    proc = runworker(names["RW_SLOW"], "--grace", "1")
    wait_for(lambda: job.get_state() == "active", 20, what="the job to start")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert job.get_state() == "waiting"
    queue.obliterate(force=True)


def test_unknown_queue_and_bad_limiter_are_refused(runworker: Any) -> None:
    proc = runworker("nope")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "queue 'nope' has no processor" in err
    proc = runworker("--limiter", "ten")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "--limiter takes MAX/DURATION_MS" in err


def test_sandboxed_processes(runworker: Any, redis_url: str, names: dict[str, str]) -> None:
    queue = Queue(names["RW_FAST"], connection=redis_url)
    jobs = [queue.add("echo", {"n": n}) for n in range(4)]
    proc = runworker(names["RW_FAST"], "--sandboxed", "--processes", "2", "--max-jobs", "4")
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert [queue.get_job(j.id).returnvalue for j in jobs] == [  # type: ignore[union-attr]
        {"echo": {"n": n}} for n in range(4)]
    queue.obliterate(force=True)


def test_processors_in_an_apps_jobs_py_are_found(runworker: Any, redis_url: str,
                                                 names: dict[str, str]) -> None:
    queue = Queue(names["RW_REGISTERED"], connection=redis_url)
    greet = queue.add("greet", {"who": "ada"})
    stranger = queue.add("farewell", {})
    proc = runworker("--max-jobs", "2")  # no queue named: every queue with a processor
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert queue.get_job(greet.id).returnvalue == "hello ada"  # type: ignore[union-attr]
    failed = queue.get_job(stranger.id)
    assert failed is not None and failed.failed_reason == (
        f"no processor for jobs named 'farewell' in queue {queue.name!r} (known: greet)")
    queue.obliterate(force=True)


def test_exits_non_zero_when_a_worker_dies_of_an_error(names: dict[str, str],
                                                      tmp_path: Path) -> None:
    # a URL whose port cannot be used: each worker dies at start (ValueError)
    env = dict(os.environ, QUEUECORE_REDIS_URL="redis://127.0.0.1:99999",
               QUEUECORE_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="tests.runworker_settings",
               **names)
    proc = subprocess.run([sys.executable, "manage.py", "runworker", names["RW_FAST"]],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0, proc.stderr
    assert f"worker of queue {names['RW_FAST']} died" in proc.stderr, proc.stderr
    assert "Port out of range" in proc.stderr, proc.stderr
