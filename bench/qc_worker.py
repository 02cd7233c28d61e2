"""A queuecore worker process for bench/throughput.py: an ``async def`` no-op processor.

    python bench/qc_worker.py --url URL --queue NAME [--prefix P] [--concurrency C]
        [--limiter MAX/DURATION_MS] [--max-seconds S] [--profile OUT.prof]

Runs until SIGTERM / SIGINT (or ``--max-seconds``, a safety limit). With
``--profile`` the whole process life after the imports (worker start-up
included) runs under cProfile and the stats are written to OUT.prof on exit.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from queuecore import Job, Worker


async def noop(job: Job) -> Any:
    return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--prefix", default="bull")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--limiter", default="", help="MAX/DURATION_MS, e.g. 1000/1000")
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument("--profile", default="")
    args = parser.parse_args()

    limiter = None
    if args.limiter:
        most, duration = (int(v) for v in args.limiter.split("/"))
        limiter = {"max": most, "duration": duration}
    worker = Worker(args.queue, noop, args.url, prefix=args.prefix,
                    concurrency=args.concurrency, limiter=limiter)

    def stop(*_: object) -> None:
        worker.close()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # a safety net: never outlive the benchmark by much
    limit = threading.Timer(args.max_seconds, lambda: signal.raise_signal(signal.SIGTERM))
    limit.daemon = True
    limit.start()

    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        try:
            worker.run()
        finally:
            profiler.disable()
            profiler.dump_stats(args.profile)
    else:
        worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
