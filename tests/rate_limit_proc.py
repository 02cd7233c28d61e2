"""A queuecore worker with a rate limiter in a process of its own.

    python tests/rate_limit_proc.py --url URL --queue NAME --max N --duration MS
        [--concurrency N] [--name NAME]

Prints ``ready <pid>`` once running; jobs complete at once. SIGTERM closes it.
"""

from __future__ import annotations

import argparse
import signal
import sys

from queuecore import Job, Worker


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
