"""Grouping failures by cause on a queue with many failed jobs.

    .venv/bin/python bench/failure_groups.py [--failed N] [--causes K] [--quick]

A private Redis (``queuecore.embedded.EmbeddedRedis``, no persistence) gets N
failed jobs (100,000; 20,000 with ``--quick``) written straight in BullMQ's
layout by a pipeline: each job hash with a failed reason from one of K causes
(numbers and quoted values varying per job), three Python tracebacks of 40
frames in its stacktrace, 2 KB of data, and the failed zset scored by
finishedOn. Then, timed (median of 3):

* ``group_failures``: the dashboard's grouping of the newest SCAN_LIMIT
  failures (failure_summaries.lua, PAGE jobs a call, top frame only);
* the pages of failure_summaries.lua alone (no grouping in Python);
* the same jobs read with ``Queue.get_jobs(summary=True)`` plus the
  ``stacktrace`` field in pages of the same size: what grouping would cost
  reading whole traces instead of the top frame.

Prints the time, the bytes Redis sent (INFO stats total_net_output_bytes) and
the groups found.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # config/ and dashboard/ when run as bench/failure_groups.py

from bench.tables import render_table  # noqa: E402
from queuecore import Connection, Queue  # noqa: E402
from queuecore import scripts as qc_scripts  # noqa: E402
from queuecore.embedded import EmbeddedRedis  # noqa: E402

FRAME = '  File "/srv/app/{mod}.py", line {line}, in {fn}\n    {fn}(job)\n'


# production settings (DEBUG off) over plain HTTP on loopback, with a key of the bench's own
BENCH_DJANGO = {"DJANGO_SECRET_KEY": "bench-only-key-" + "Zr4wQ8xN2pL6tV9y" * 3,
                "DJANGO_SECURE_SSL_REDIRECT": "0", "DJANGO_SECURE_COOKIES": "0"}


def traceback_text(cause: int, n: int) -> str:
    frames = "".join(FRAME.format(mod=f"lib{i}", line=10 + i, fn=f"step{i}") for i in range(39))
    top = FRAME.format(mod=f"cause{cause}", line=100 + cause, fn=f"handler{cause}")
    return f"Traceback (most recent call last):\n{frames}{top}RuntimeError: cause {cause} #{n}\n"


def fill(r: redis.Redis, queue: str, count: int, causes: int) -> None:
    base = f"bull:{queue}:"
    now = int(time.time() * 1000)
    data = json.dumps({"blob": "x" * 2000})
    pipe = r.pipeline(transaction=False)
    for i in range(1, count + 1):
        cause = i % causes
        reason = f"cause {cause}: order {i} for 'customer-{i}' failed after {i % 97} ms"
        stack = json.dumps([traceback_text(cause, i + k) for k in range(3)])
        pipe.hset(base + str(i), mapping={
            "name": "pay", "data": data, "opts": '{"attempts":1}', "timestamp": now - count + i,
            "processedOn": now - count + i, "finishedOn": now - count + i, "atm": 1,
            "failedReason": reason, "stacktrace": stack})
        pipe.zadd(base + "failed", {str(i): now - count + i})
        if i % 2000 == 0:
            pipe.execute()
    pipe.set(base + "id", count)
    pipe.execute()


def sent_bytes(r: redis.Redis) -> int:
    return int(r.info("stats")["total_net_output_bytes"])


def measure(r: redis.Redis, run: Any, reps: int = 3) -> tuple[float, int, Any]:
    times, sizes, result = [], [], None
    for _ in range(reps):
        before = sent_bytes(r)
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
        sizes.append(sent_bytes(r) - before)
    return statistics.median(times), int(statistics.median(sizes)), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failed", type=int, default=None)
    parser.add_argument("--causes", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count = args.failed or (20_000 if args.quick else 100_000)
    work = Path(tempfile.mkdtemp(prefix="qc-failures-bench-"))
    server = EmbeddedRedis(work / "redis", appendonly=False)
    url = server.start()
    try:
        os.environ.update({"DJANGO_SETTINGS_MODULE": "config.settings",
                           "QUEUECORE_REDIS_URL": url, "QUEUECORE_VAR_DIR": str(work),
                           **BENCH_DJANGO})
        import django

        django.setup()
        from dashboard import failures

        r = redis.Redis.from_url(url, decode_responses=True)
        started = time.perf_counter()
        fill(r, "failing", count, args.causes)
        print(f"{count:,} failed jobs written in {time.perf_counter() - started:.1f} s "
              f"({r.info('memory')['used_memory_human']} in Redis)")
        queue = Queue("failing", connection=Connection(url))
        limit = min(failures.SCAN_LIMIT, count)

        def whole_traces() -> int:
            read = 0
            for start in range(0, limit, failures.PAGE):
                end = min(start + failures.PAGE, limit) - 1
                op = qc_scripts.get_jobs(queue.keys, ["failed"], start, end, False,
                                         ("name", "failedReason", "finishedOn", "stacktrace"))

                def call(op: Any = op) -> Any:
                    return (yield op)
                read += len(qc_scripts.parse_jobs(queue.connection.run(call())))
            return read

        read_s, read_bytes, _ = measure(r, lambda: list(failures.read_failed(queue, limit)))
        grouped_s, grouped_bytes, grouping = measure(r, lambda: failures.group_failures(queue))
        whole_s, whole_bytes, _ = measure(r, whole_traces)
        print(render_table(["reading", "jobs", "time", "bytes from Redis"], [
            ["group_failures (top frame only)", f"{grouping.scanned:,}",
             f"{grouped_s * 1000:.0f} ms", f"{grouped_bytes / 1e6:.1f} MB"],
            ["failure_summaries.lua pages alone", f"{limit:,}", f"{read_s * 1000:.0f} ms",
             f"{read_bytes / 1e6:.1f} MB"],
            ["get_jobs with whole stacktraces", f"{limit:,}", f"{whole_s * 1000:.0f} ms",
             f"{whole_bytes / 1e6:.1f} MB"],
        ]))
        print(f"{len(grouping.groups)} groups over the newest {grouping.scanned:,} of "
              f"{grouping.total:,} failures (capped: {grouping.capped}):")
        for g in grouping.groups:
            print(f"  {g.count:>6,}  {g.reason}  @ {g.frame}")
        queue.close()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
