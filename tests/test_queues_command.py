"""``manage.py queues`` as a real process: every subcommand, confirmation, health."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from queuecore import Job, Queue
from tests.helpers import running_worker, wait_for

ROOT = Path(__file__).resolve().parent.parent


class Cli:
    """Runs ``manage.py queues`` against the test server, under a prefix of its own."""

    def __init__(self, redis_url: str, var_dir: Path) -> None:
        self.redis_url = redis_url
        self.prefix = f"qcli-{uuid.uuid4().hex[:10]}"
        self.configured = {"RW_FAST": f"rw-fast-{uuid.uuid4().hex[:8]}",
                           "RW_SLOW": f"rw-slow-{uuid.uuid4().hex[:8]}"}
        self.env = dict(os.environ, QUEUECORE_REDIS_URL=redis_url,
                        QUEUECORE_PREFIX=self.prefix, QUEUECORE_VAR_DIR=str(var_dir),
                        DJANGO_SETTINGS_MODULE="tests.runworker_settings", **self.configured)
        self.queues: list[Queue] = []

    def __call__(self, *args: str, stdin: Any = subprocess.DEVNULL,
                 **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "manage.py", "queues", *args], cwd=ROOT,
                              env={**self.env, **env}, stdin=stdin, capture_output=True,
                              text=True, timeout=60)

    def queue(self, name: str) -> Queue:
        queue = Queue(name, connection=self.redis_url, prefix=self.prefix)
        self.queues.append(queue)
        return queue

    def cleanup(self) -> None:
        for queue in self.queues:
            queue.close()
        client = redis.Redis.from_url(self.redis_url)
        keys = list(client.scan_iter(match=f"{self.prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def cli(redis_url: str, tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(redis_url, tmp_path)
    yield runner
    runner.cleanup()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one-line error of a command that failed."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


async def process(job: Job) -> str:
    if job.name == "boom":
        raise ValueError("bad input\nsecond line of the reason")
    return "done"


def finish_some(cli: Cli, queue: Queue, completed: int = 2, failed: int = 1) -> None:
    """Run a worker until the queue has these completed and failed jobs."""
    for _ in range(completed):
        queue.add("fine", {})
    for _ in range(failed):
        queue.add("boom", {})
    with running_worker(queue.name, process, cli.redis_url, prefix=cli.prefix,
                        drain_delay=0.2):
        wait_for(lambda: queue.get_job_counts("completed", "failed") == {
            "completed": completed, "failed": failed}, 20, what="the jobs to finish")


def test_list_shows_every_queue_with_counts_as_a_table_and_as_json(cli: Cli) -> None:
    alpha = cli.queue("alpha")
    finish_some(cli, alpha)
    alpha.add("later", {}, delay=60_000)
    alpha.add("urgent", {}, priority=5)
    alpha.add("plain", {})
    beta = cli.queue("beta-with-a-long-name")
    beta.add("plain", {})
    beta.pause()

    lines = ok(cli("list")).splitlines()
    assert lines[0].split() == ["QUEUE", "WAITING", "ACTIVE", "PRIORITIZED", "DELAYED",
                                "COMPLETED", "FAILED", "WAITING-CHILDREN", "PAUSED", "WORKERS"]
    assert lines[1].split() == ["alpha", "1", "0", "1", "1", "2", "1", "0", "no", "0"]
    assert lines[2].split() == ["beta-with-a-long-name", "1", "0", "0", "0", "0", "0", "0",
                                "yes", "0"]
    # aligned: numbers end under the end of their heading
    end = lines[0].index("COMPLETED") + len("COMPLETED")
    assert all(line[end - 1] != " " and line[end] == " " for line in lines[1:])

    listing = json.loads(ok(cli("list", "--json")))
    assert listing == [
        {"queue": "alpha", "paused": False, "workers": 0,
         "counts": {"waiting": 1, "active": 0, "prioritized": 1, "delayed": 1,
                    "completed": 2, "failed": 1, "waiting-children": 0}},
        {"queue": "beta-with-a-long-name", "paused": True, "workers": 0,
         "counts": {"waiting": 1, "active": 0, "prioritized": 0, "delayed": 0,
                    "completed": 0, "failed": 0, "waiting-children": 0}},
    ]


def test_list_counts_live_workers(cli: Cli) -> None:
    queue = cli.queue("busy")
    queue.add("fine", {})
    with running_worker(queue.name, process, cli.redis_url, prefix=cli.prefix,
                        drain_delay=0.2):
        wait_for(queue.get_workers, 15, what="the worker to register")
        [entry] = json.loads(ok(cli("list", "--json")))
    assert entry["queue"] == "busy" and entry["workers"] == 1


def test_list_of_an_empty_prefix(cli: Cli) -> None:
    assert ok(cli("list")).strip() == f"no queues under prefix {cli.prefix!r}"
    assert json.loads(ok(cli("list", "--json"))) == []


def test_show_lists_recent_jobs_per_state(cli: Cli) -> None:
    queue = cli.queue("shown")
    finish_some(cli, queue, completed=3, failed=1)
    waiting = queue.add("plain", {"x": 1})

    out = ok(cli("show", "shown", "--limit", "2"))
    assert "waiting: 1 job\n" in out and "completed: 3 jobs, the newest 2\n" in out
    assert "failed: 1 job\n" in out and "delayed: 0 jobs\n" in out
    assert "bad input" in out and "second line" not in out
    assert "ATTEMPTS" in out and " 1/1 " in out
    assert f"  {waiting.id} " in out

    shown = json.loads(ok(cli("show", "shown", "--limit", "2", "--json")))
    assert shown["queue"] == "shown" and shown["paused"] is False
    assert shown["counts"] == {"waiting": 1, "active": 0, "prioritized": 0, "delayed": 0,
                               "completed": 3, "failed": 1, "waiting-children": 0}
    assert [j["id"] for j in shown["jobs"]["waiting"]] == [waiting.id]
    assert len(shown["jobs"]["completed"]) == 2
    [failed] = shown["jobs"]["failed"]
    assert failed["name"] == "boom" and failed["failed_reason"] == "bad input"
    assert failed["attempts_made"] == 1 and failed["finished_on"] >= failed["timestamp"] > 0

    only = json.loads(ok(cli("show", "shown", "--state", "failed", "--json")))
    assert list(only["jobs"]) == ["failed"]


def test_unknown_queue_is_named_in_the_error(cli: Cli) -> None:
    cli.queue("known").add("plain", {})
    for args in (["show", "nope"], ["retry", "nope", "--yes"], ["clean", "nope", "--yes"],
                 ["promote", "nope", "--yes"], ["pause", "nope", "--yes"], ["resume", "nope"],
                 ["remove", "nope", "1", "--yes"]):
        error = refused(cli(*args))
        assert "unknown queue 'nope'" in error and "known: known" in error, args
    assert "contains ':'" in refused(cli("show", "bad:name"))


def test_changes_are_refused_without_a_terminal_unless_yes(cli: Cli) -> None:
    queue = cli.queue("careful")
    job = queue.add("plain", {}, delay=60_000)
    for args in (["retry", "careful"], ["clean", "careful"], ["promote", "careful"],
                 ["pause", "careful"], ["remove", "careful", job.id]):
        error = refused(cli(*args))
        assert "without confirmation" in error and "--yes" in error, args
    assert queue.get_job_counts("delayed") == {"delayed": 1}
    assert not queue.is_paused()


def run_on_a_terminal(cli: Cli, answer: str, *args: str) -> subprocess.CompletedProcess[str]:
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer.encode() + b"\n")
        return cli(*args, stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)


def test_asks_on_a_terminal(cli: Cli) -> None:
    queue = cli.queue("asked")
    queue.add("plain", {}, delay=60_000)
    no = run_on_a_terminal(cli, "n", "promote", "asked")
    assert "Move 1 delayed job of 'asked' to waiting now? [y/N]" in no.stderr
    assert "aborted: nothing was changed" in refused(no).split("[y/N] ")[-1]
    assert queue.get_job_counts("delayed") == {"delayed": 1}
    yes = run_on_a_terminal(cli, "y", "promote", "asked")
    assert "promoted 1 delayed job of 'asked' to waiting" in ok(yes)
    assert queue.get_job_counts("delayed", "waiting") == {"delayed": 0, "waiting": 1}


def test_retry_failed_and_completed(cli: Cli) -> None:
    queue = cli.queue("again")
    finish_some(cli, queue, completed=2, failed=1)
    assert ok(cli("retry", "again", "--yes")).strip() == \
        "retried 1 failed job of 'again': back to waiting"
    assert queue.get_job_counts("failed", "waiting") == {"failed": 0, "waiting": 1}
    assert ok(cli("retry", "again", "--state", "completed", "--yes")).strip() == \
        "retried 2 completed jobs of 'again': back to waiting"
    assert queue.get_job_counts("completed", "waiting") == {"completed": 0, "waiting": 3}


def test_clean_honours_grace_limit_and_state(cli: Cli) -> None:
    queue = cli.queue("tidy")
    finish_some(cli, queue, completed=3, failed=1)
    assert "removed 0 completed jobs older than 3600 s" in ok(cli("clean", "tidy", "--yes"))
    time.sleep(0.01)
    out = ok(cli("clean", "tidy", "--grace", "0", "--limit", "2", "--yes"))
    assert out.strip() == "removed 2 completed jobs older than 0 s from 'tidy'"
    out = ok(cli("clean", "tidy", "--state", "failed", "--grace", "0", "--yes"))
    assert out.strip() == "removed 1 failed job older than 0 s from 'tidy'"
    assert queue.get_job_counts("completed", "failed") == {"completed": 1, "failed": 0}


def test_promote_moves_delayed_jobs_to_waiting(cli: Cli) -> None:
    queue = cli.queue("soon")
    for _ in range(3):
        queue.add("later", {}, delay=60_000)
    assert ok(cli("promote", "soon", "--yes")).strip() == \
        "promoted 3 delayed jobs of 'soon' to waiting"
    assert queue.get_job_counts("delayed", "waiting") == {"delayed": 0, "waiting": 3}


def test_pause_and_resume(cli: Cli) -> None:
    queue = cli.queue("halt")
    queue.add("plain", {})
    queue.add("plain", {})
    assert ok(cli("pause", "halt", "--yes")).strip() == \
        "paused 'halt': 2 jobs waiting stay there until it is resumed"
    assert queue.is_paused()
    assert "was already paused" in ok(cli("pause", "halt"))  # nothing to confirm
    assert ok(cli("resume", "halt")).strip() == "resumed 'halt': 2 jobs waiting"
    assert not queue.is_paused()
    assert "was not paused" in ok(cli("resume", "halt"))


def test_remove_one_job(cli: Cli) -> None:
    queue = cli.queue("gone")
    job = queue.add("plain", {})
    assert ok(cli("remove", "gone", job.id, "--yes")).strip() == \
        f"removed 1 job ('{job.id}', 'plain', was waiting) from 'gone'"
    assert queue.get_job(job.id) is None
    assert f"queue 'gone' has no job '{job.id}'" in refused(cli("remove", "gone", job.id,
                                                                "--yes"))


def test_remove_refuses_a_job_being_processed(cli: Cli) -> None:
    queue = cli.queue("held")
    release = threading.Event()

    async def hold(job: Job) -> str:
        while not release.is_set():
            await asyncio.sleep(0.05)
        return "released"

    job = queue.add("hold", {})
    with running_worker(queue.name, hold, cli.redis_url, prefix=cli.prefix, drain_delay=0.2):
        try:
            wait_for(lambda: job.get_state() == "active", 15, what="the job to start")
            error = refused(cli("remove", "held", job.id, "--yes"))
        finally:
            release.set()
    assert "is being processed" in error and "not removed" in error


def test_health_ok(cli: Cli) -> None:
    assert ok(cli("health")).strip() == "ok"


def test_health_fails_when_redis_is_unreachable(cli: Cli) -> None:
    started = time.monotonic()
    result = cli("health", QUEUECORE_REDIS_URL="redis://127.0.0.1:1")
    assert "Redis at redis://127.0.0.1:1 is unreachable" in refused(result)
    assert time.monotonic() - started < 30
    error = refused(cli("list", QUEUECORE_REDIS_URL="redis://:hunter2@127.0.0.1:1"))
    assert "unreachable" in error and "hunter2" not in error


def test_health_requires_workers_for_named_and_configured_queues(cli: Cli) -> None:
    assert "no live worker for queue lonely" in refused(
        cli("health", "lonely", "--require-workers"))
    fast, slow = cli.configured["RW_FAST"], cli.configured["RW_SLOW"]
    error = refused(cli("health", "--require-workers"))
    # every queue with a processor: the two in settings (and one from a jobs.py)
    assert "no live worker for queues " in error and fast in error and slow in error

    queue = cli.queue(fast)
    with running_worker(fast, process, cli.redis_url, prefix=cli.prefix, drain_delay=0.2):
        wait_for(queue.get_workers, 15, what="the worker to register")
        assert ok(cli("health", fast, "--require-workers")).strip() == "ok"
        error = refused(cli("health", "--require-workers"))
        assert "no live worker for queue" in error and slow in error and fast not in error
