"""A queuecore worker with a rate limiter in a process of its own.

    python tests/rate_limit_proc.py --url URL --queue NAME --max N --duration MS
        [--concurrency N] [--name NAME]

Prints ``ready`` once running; jobs complete at once. SIGTERM closes it.
Also holds ``limited_once``, a processor for sandboxed workers.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

# run as a script, import this checkout's queuecore (not an installed one)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from queuecore import Job, RateLimitError, Worker


def limited_once(job: Job) -> str:
    """Sandboxed: gives the job back on its first start, completes it on the next."""
    if job.attempts_started == 1:
        raise RateLimitError()
    return "second time"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--max", type=int, required=True)
    parser.add_argument("--duration", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--name", default=None)
    args = parser.parse_args()

    def process(job: Job) -> str:
        return "ok"

    worker = Worker(args.queue, process, args.url, concurrency=args.concurrency, name=args.name,
                    limiter={"max": args.max, "duration": args.duration}, drain_delay=0.5)
    signal.signal(signal.SIGTERM, lambda *_: worker.close())
    worker.on("error", lambda exc: print(f"error {exc!r}", flush=True))
    print("ready", flush=True)
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
