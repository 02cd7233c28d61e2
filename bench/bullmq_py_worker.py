"""A PyPI ``bullmq`` (3.4.4) worker process for bench/throughput.py: its asyncio
Worker with an ``async def`` no-op processor.

    python bench/bullmq_py_worker.py --url URL --queue NAME [--prefix P]
        [--concurrency C] [--max-seconds S]

Runs until SIGTERM / SIGINT (or ``--max-seconds``, a safety limit).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from bullmq import Worker


async def noop(job: Any, token: Any = None) -> Any:
    return None


async def run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(args.queue, noop, {
        "connection": args.url,
        "prefix": args.prefix,
        "concurrency": args.concurrency,
    })
    try:
        await asyncio.wait_for(stop.wait(), args.max_seconds)
    except TimeoutError:
        pass
    await worker.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--prefix", default="bull")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    asyncio.run(run(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
