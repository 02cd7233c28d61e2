"""Sandboxed processors against threads on CPU-bound jobs.

2,000 jobs of about 20 ms of pure-Python work each, run by one worker with
in-process threads (concurrency 2: the GIL lets one run at a time) and by one
worker with 2 sandboxed child processes (both cores). Prints jobs/s and the
speed-up. Usage: python bench/sandbox.py [--jobs N] [--ms MS] [--processes P]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cpu_jobs import burn, loops_for

from queuecore import Queue, Worker
from queuecore.embedded import EmbeddedRedis


def run(url: str, name: str, jobs: int, loops: int, **options: object) -> float:
    queue = Queue(name, connection=url)
    for start in range(0, jobs, 1000):
        queue.add_bulk([{"name": "burn", "data": {"loops": loops}}
                        for _ in range(start, min(start + 1000, jobs))])
    worker = Worker(name, options.pop("processor", burn), connection=url, **options)
    began = time.perf_counter()
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    while queue.get_job_counts("completed")["completed"] < jobs:
        time.sleep(0.02)
        if time.perf_counter() - began > 600:
            raise TimeoutError(f"{name}: not done after 600 s")
    took = time.perf_counter() - began
    worker.close(timeout=60)
    thread.join(60)
    queue.obliterate(force=True)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--ms", type=int, default=20)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    loops = loops_for(args.ms)  # the same work in every job, whoever runs it
    with EmbeddedRedis(tempfile.mkdtemp(), appendonly=False) as server:
        threads = run(server.url, "threads", args.jobs, loops, concurrency=args.processes)
        procs = run(server.url, "sandboxed", args.jobs, loops, processor="cpu_jobs.burn",
                    sandboxed=True, processes=args.processes)
    print(f"{args.jobs} jobs of ~{args.ms} ms CPU, {os.cpu_count()} cores")
    print(f"  threads (concurrency {args.processes}):  {threads:6.1f} s  "
          f"{args.jobs / threads:7.1f} jobs/s")
    print(f"  {args.processes} sandboxed processes:     {procs:6.1f} s  "
          f"{args.jobs / procs:7.1f} jobs/s")
    print(f"  speed-up: {threads / procs:.2f}x")


if __name__ == "__main__":
    main()
