"""What ``manage.py runworker`` logs: a summary line per interval by default,
every job's start and finish with ``-v 2`` / ``--verbose``."""

from __future__ import annotations

import json
import re
from typing import Any

from queuecore import Queue
from tests.test_runworker import names, runworker  # noqa: F401 - the fixtures

SUMMARY = re.compile(r"processed (\d+) \((\d+) failed\) in \d+ s: (.+)$")


def add_jobs(queue: Queue, n: int) -> None:
    queue.add_bulk([{"name": "echo", "data": {"n": i, "fail": i % 5 == 0}} for i in range(n)])


def test_default_log_is_a_summary_line_per_interval(runworker: Any, redis_url: str,  # noqa: F811
                                                    names: dict[str, str]) -> None:  # noqa: F811
    queue = Queue(names["RW_FAST"], connection=redis_url)
    add_jobs(queue, 40)
    proc = runworker(names["RW_FAST"], "--max-jobs", "40", "--summary-interval", "0.5")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = err.splitlines()
    assert not [line for line in lines if re.search(r"(start|done|failed) rw-fast", line)]
    found = [m for m in map(SUMMARY.search, lines) if m]
    # every finished attempt is counted once, the last ones when the worker stops
    assert sum(int(m[1]) for m in found) == 40 and sum(int(m[2]) for m in found) == 8
    assert all(m[3].startswith(f"{queue.name} ") for m in found)
    assert any(re.fullmatch(rf"{queue.name} \d+ \(\d+ failed\)", m[3]) for m in found)
    assert len(lines) < 12  # instead of two lines per job
    queue.obliterate(force=True)


def test_verbose_logs_every_job_and_json_summaries_carry_counts(
        runworker: Any, redis_url: str, names: dict[str, str]) -> None:  # noqa: F811
    queue = Queue(names["RW_FAST"], connection=redis_url)
    add_jobs(queue, 10)
    proc = runworker(names["RW_FAST"], "--max-jobs", "10", "--verbose")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert len(re.findall(rf"start {queue.name} #", err)) == 10
    assert len(re.findall(rf"done {queue.name} #", err)) == 8
    assert len(re.findall(rf"failed {queue.name} #\d+ echo attempt 1 in \d+ ms: asked to fail",
                          err)) == 2
    assert not any(map(SUMMARY.search, err.splitlines()))
    add_jobs(queue, 10)
    proc = runworker(names["RW_FAST"], "--max-jobs", "10", "--log-format", "json")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    summaries = [line for line in lines if line["message"].startswith("processed ")]
    assert sum(s["processed"] for s in summaries) == 10
    assert sum(s["queues"][queue.name]["failed"] for s in summaries) == 2
    assert not [line for line in lines if "outcome" in line]
    # -v 0: no job lines and no summaries
    add_jobs(queue, 5)
    proc = runworker(names["RW_FAST"], "--max-jobs", "5", "-v", "0")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert not any(map(SUMMARY.search, err.splitlines())) and f"{queue.name} #" not in err
    queue.obliterate(force=True)
