"""What ``manage.py runworker`` logs by default: one summary line per interval
of the jobs its workers finished, instead of two lines per job (those come
with ``-v 2``), so a busy worker's log stays readable."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .worker import Worker


class JobSummary:
    """Counts finished attempts per queue and logs, ``interval`` s after the
    first of them, ``processed 523 (12 failed) in 5 s: emails 120, flaky-api
    30 (12 failed)``. Nothing is logged while no job finishes; whatever was
    counted is logged when the workers close."""

    def __init__(self, logger: logging.Logger, interval: float) -> None:
        self.logger = logger
        self.interval = interval
        self.counts: dict[str, list[int]] = {}  # queue -> [finished, failed]
        self.since = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.running = 0

    def watch(self, worker: Worker) -> None:
        queue = worker.queue.name
        self.counts.setdefault(queue, [0, 0])  # lines list queues in the order they run
        self.running += 1
        worker.on("completed", lambda _job, _result: self.count(queue, False))
        worker.on("failed", lambda _job, _error: self.count(queue, True))
        worker.on("closed", self.closed)

    def closed(self) -> None:
        self.running -= 1
        if not self.running:  # the last line, once every worker has reported its jobs
            self.flush()

    def count(self, queue: str, failed: bool) -> None:
        entry = self.counts[queue]
        entry[0] += 1
        entry[1] += failed
        if self.timer is None:  # events come on the workers' loop
            self.since = time.monotonic()
            self.timer = asyncio.get_running_loop().call_later(self.interval, self.flush)

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        finished = sum(done for done, _ in self.counts.values())
        if not finished:
            return
        failed = sum(bad for _, bad in self.counts.values())
        seconds = time.monotonic() - self.since
        queues = {name: {"processed": done, "failed": bad}
                  for name, (done, bad) in self.counts.items() if done}
        parts = [f"{name} {n['processed']}" + (f" ({n['failed']} failed)" if n["failed"] else "")
                 for name, n in queues.items()]
        # runworker's JSON formatter merges a record's "job" fields into its line
        fields = {"processed": finished, "failed": failed, "seconds": round(seconds, 1),
                  "queues": queues}
        self.logger.info("processed %d (%d failed) in %.0f s: %s", finished, failed, seconds,
                         ", ".join(parts), extra={"job": fields})
        for entry in self.counts.values():
            entry[:] = [0, 0]
