"""Real failures for the dashboard tests: a real Worker runs jobs whose
processor raises, from different functions, so each cause has its own
reason and top stack frame."""

from __future__ import annotations

import threading
from typing import Any

from queuecore import Job, Queue, Worker
from tests.helpers import wait_for


def card_declined(job: Job) -> None:
    raise RuntimeError(f"card {job.data['n']} declined for order '{job.data['order']}'")


def gateway_timeout(job: Job) -> None:
    raise TimeoutError(f"gateway 10.0.0.{job.data['n']} timed out after {job.data['n']}00 ms")


async def fail_by_kind(job: Job) -> None:
    if job.data.get("kind") == "timeout":
        gateway_timeout(job)
    card_declined(job)


def make_failures(queue: Queue, redis_url: str, specs: list[dict[str, Any]],
                  timeout: float = 15.0) -> list[str]:
    """Adds one job per spec (its data), runs them to failure, returns their ids."""
    before = queue.get_job_counts("failed")["failed"]
    jobs = queue.add_bulk([{"name": "pay", "data": spec, "opts": {"attempts": 1}}
                           for spec in specs])
    worker = Worker(queue.name, fail_by_kind, connection=redis_url, concurrency=10)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: queue.get_job_counts("failed")["failed"] == before + len(specs),
                 timeout, what=f"{len(specs)} jobs to fail")
    finally:
        worker.close(timeout=10)
        thread.join(10)
    return [job.id for job in jobs]


def cards(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"kind": "card", "n": 4000 + i, "order": f"A-{i}"} for i in range(start, start + count)]


def timeouts(count: int) -> list[dict[str, Any]]:
    return [{"kind": "timeout", "n": i + 1} for i in range(count)]
