"""A queuecore worker in a process of its own, for tests that kill it.

    python tests/worker_proc.py --url URL --queue NAME [--prefix P] [--mode block|fast|fail]
        [--lock-duration MS] [--stalled-interval MS] [--concurrency N] [--grace S]

Prints ``ready <pid>`` at start, ``active <job id>`` when a job starts,
``completed <job id>`` / ``failed <job id> <reason>`` when one ends,
``stalled <job id>`` when it recovers one and ``error <repr>`` on a worker error.
``block`` jobs never end by themselves (the test kills the process); ``fast``
jobs return ``{"pid": <pid>, "data": ...}``; ``fail`` jobs raise
``RuntimeError``, except jobs named ``ok`` (which return as ``fast`` ones do);
``sleep-async`` jobs sleep ``data["seconds"]`` (default 60) in an async def.
SIGTERM closes the worker (``Worker.run()``'s own handlers: active jobs get
``--grace`` s, a second signal gives them back to wait).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from typing import Any

from queuecore import Job, Worker

RELEASE = threading.Event()  # never set: a blocked job waits until the process dies


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--prefix", default="bull")
    parser.add_argument("--mode", default="block",
                        choices=("block", "fast", "fail", "sleep-async", "poll-sync"))
    parser.add_argument("--lock-duration", type=int, default=1000)
    parser.add_argument("--stalled-interval", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--grace", type=float, default=None)
    args = parser.parse_args()

    def process(job: Job) -> Any:
        say(f"active {job.id}")
        if args.mode == "block":
            RELEASE.wait(600)
        if args.mode == "fail" and job.name != "ok":
            raise RuntimeError(f"refused job {job.id}")
        return {"pid": os.getpid(), "data": job.data}

    async def sleep_async(job: Job) -> Any:
        say(f"active {job.id}")
        seconds = job.data.get("seconds", 60) if isinstance(job.data, dict) else 60
        await asyncio.sleep(seconds)  # cancelled: asyncio.CancelledError here
        return "slept"

    def poll_sync(job: Job) -> Any:
        say(f"active {job.id}")
        for _ in range(600):
            job.raise_if_cancelled()
            time.sleep(0.05)
        return "polled"

    processors = {"sleep-async": sleep_async, "poll-sync": poll_sync}
    worker = Worker(args.queue, processors.get(args.mode, process), args.url, prefix=args.prefix,
                    concurrency=args.concurrency, lock_duration=args.lock_duration,
                    stalled_interval=args.stalled_interval, drain_delay=0.5,
                    shutdown_grace=args.grace)
    worker.on("completed", lambda job, result: say(f"completed {job.id}"))
    worker.on("failed", lambda job, exc: say(f"failed {job.id} {exc}"))
    worker.on("stalled", lambda job_id, prev: say(f"stalled {job_id}"))
    worker.on("error", lambda exc: say(f"error {exc!r}"))
    say(f"ready {os.getpid()}")
    worker.run()
    say("closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
