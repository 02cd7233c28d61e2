"""Job search and export on a 1,000,000-job queue: time to first result, jobs
looked at per second, and how long each Lua call holds Redis.

    .venv/bin/python bench/search.py [--quick] [--redis-url URL] [--chunk N] [--out FILE]

One private server (``queuecore.embedded.EmbeddedRedis``, no persistence)
unless ``--redis-url`` (keys under a prefix of their own, deleted after). The
queue is bench/dashboard.py's ``big``: N completed jobs (1,000,000; 100,000
with ``--quick``) written straight in BullMQ's layout, data
``{"index": i, "kind": "benchmark", "body": "xxx…"}``, newest = highest id.

Each search runs through ``queuecore.search.search_jobs`` (the sync client;
the dashboard's socket drives the same steps with the asyncio one), newest
first, as the dashboard runs it (page limit of 500 matches). Per search:
time to the first match, total time, jobs looked at per second, Lua calls,
the slowest call's round trip and Redis' own mean time per call (INFO
commandstats). The export is the dashboard's JSON lines stream
(``dashboard.export.stream``) over every job, consumed as Daphne would.

Results go to stdout and var/bench/search.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = ROOT / "var" / "bench" / "search.json"


# production settings (DEBUG off) over plain HTTP on loopback, with a key of the bench's own
BENCH_DJANGO = {"DJANGO_SECRET_KEY": "bench-only-key-" + "Zr4wQ8xN2pL6tV9y" * 3,
                "DJANGO_SECURE_SSL_REDIRECT": "0", "DJANGO_SECURE_COOKIES": "0"}


def load_dashboard_bench() -> Any:
    """bench/dashboard.py under another name: "dashboard" is the Django app."""
    spec = importlib.util.spec_from_file_location("bench_dashboard", BENCH / "dashboard.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["bench_dashboard"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


bd = load_dashboard_bench()  # puts the project root first on sys.path
from processes import Timeout, bound  # noqa: E402
from tables import render_table  # noqa: E402

from queuecore import Queue  # noqa: E402
from queuecore.embedded import EmbeddedRedis  # noqa: E402
from queuecore.search import CHUNK, JobSearch, make_query  # noqa: E402

LIMIT = 500  # the dashboard's page limit


def evalsha_stats(r: redis.Redis) -> tuple[int, float]:
    """Script calls so far and their time in Redis (EVAL after a NOSCRIPT too)."""
    stats = r.info("commandstats")
    entries = [stats.get(name, {}) for name in ("cmdstat_evalsha", "cmdstat_eval")]
    return (sum(int(e.get("calls", 0)) for e in entries),
            sum(float(e.get("usec", 0)) for e in entries))


def search_jobs_once(queue: Queue) -> Any:
    search = JobSearch(queue, make_query("name", "warm-up", "completed"), chunk=1)
    return queue.connection.run(search.step()).jobs


def run_search(queue: Queue, r: redis.Redis, label: str, kind: str, text: str,
               chunk: int, limit: int | None = LIMIT) -> dict[str, Any]:
    search = JobSearch(queue, make_query(kind, text, "completed"), chunk=chunk, limit=limit)
    calls0, usec0 = evalsha_stats(r)
    rounds: list[float] = []
    first = None
    matched = 0
    t0 = time.perf_counter()
    while not search.done:
        t = time.perf_counter()
        progress = queue.connection.run(search.step())
        rounds.append(time.perf_counter() - t)
        if progress.jobs and first is None:
            first = time.perf_counter() - t0
        matched = progress.matched
    seconds = time.perf_counter() - t0
    calls1, usec1 = evalsha_stats(r)
    calls = calls1 - calls0
    scanned = sum(search.looked.values())
    return {"label": label, "kind": kind, "text": text, "matched": matched,
            "first_ms": None if first is None else first * 1000, "total_ms": seconds * 1000,
            "scanned": scanned, "jobs_per_s": scanned / seconds if seconds else 0.0,
            "lua_calls": calls, "round_max_ms": max(rounds) * 1000,
            "round_median_ms": statistics.median(rounds) * 1000,
            "redis_ms_per_call": (usec1 - usec0) / 1000 / calls if calls else 0.0}


async def run_export(queue: Queue) -> dict[str, Any]:
    from dashboard import export

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    first = None
    size = lines = 0
    every = JobSearch(queue, make_query("every", states="completed"), chunk=export.CHUNK,
                      budget=export.BUDGET, fields=())  # as the export view builds it
    async for piece in export.stream(queue, every, "jsonl", None):
        if first is None:
            first = time.perf_counter() - t0
        size += len(piece)
        lines += piece.count("\n")
    seconds = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"jobs": lines, "mb": size / 1e6, "first_ms": (first or 0) * 1000,
            "total_s": seconds, "jobs_per_s": lines / seconds,
            "max_rss_growth_mb": (rss1 - rss0) / 1024}


def setup_django(url: str, prefix: str, var_dir: Path) -> None:
    os.environ.update({"DJANGO_SETTINGS_MODULE": "config.settings",
                       "QUEUECORE_REDIS_URL": url, "QUEUECORE_PREFIX": prefix,
                       "QUEUECORE_VAR_DIR": str(var_dir), "DJANGO_DEBUG": "0",
                       **BENCH_DJANGO})
    import django

    django.setup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 jobs, not 1,000,000")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--chunk", type=int, default=CHUNK, help="jobs per Lua call")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    n = bd.N_BIG_QUICK if args.quick else bd.N_BIG
    bound(args.timeout)
    work = Path(tempfile.mkdtemp(prefix="qc-search-bench-"))
    server = None
    prefix = f"bsearch{uuid.uuid4().hex[:6]}" if args.redis_url else "bull"
    r = None
    try:
        if args.redis_url:
            url = args.redis_url
        else:
            server = EmbeddedRedis(work / "redis", appendonly=False)
            url = server.start()
        r = redis.Redis.from_url(url, decode_responses=True)
        bd.say(f"filling {bd.BIG} with {n:,} completed jobs")
        fill = bd.fill_big(r, prefix, n)
        bd.say(f"  {fill['seconds']:.1f} s")
        queue = Queue(bd.BIG, url, prefix=prefix)
        middle, oldest = n // 2, 17
        searches = [
            ("id", "id", str(middle), None),
            ("name, all match (page of 500)", "name", "bench", LIMIT),
            ("data substring, oldest job", "data", f'"index":{oldest},', LIMIT),
            ("data key=value, middle job", "data", f"index={middle}", LIMIT),
            ("data key=value, no match (plain filter)", "data", "kind=nowhere", LIMIT),
            ("data substring, no match", "data", "no such text", LIMIT),
            ("failure reason, none set", "reason", "timeout", LIMIT),
        ]
        list(search_jobs_once(queue))  # the script loaded before anything is timed
        results = []
        for label, kind, text, limit in searches:
            bd.say(f"search: {label}")
            results.append(run_search(queue, r, label, kind, text, args.chunk, limit))
        export_result: dict[str, Any] = {}
        if not args.no_export:
            bd.say("export: every job as JSON lines")
            setup_django(url, prefix, work / "var")
            export_result = asyncio.run(run_export(queue))
        queue.close()

        rows = [[e["label"], f"{e['matched']:,}",
                 "-" if e["first_ms"] is None else f"{e['first_ms']:,.1f}",
                 f"{e['total_ms']:,.0f}", f"{e['scanned']:,}", f"{e['jobs_per_s']:,.0f}",
                 f"{e['lua_calls']:,}", f"{e['redis_ms_per_call']:.2f}",
                 f"{e['round_max_ms']:.2f}"] for e in results]
        print(f"\nSearch over {n:,} completed jobs, chunk {args.chunk:,} "
              f"({bd.versions(r)['server']}, {os.cpu_count()} CPUs)\n")
        print(render_table(["search", "found", "first ms", "total ms", "looked at",
                            "jobs/s", "Lua calls", "Redis ms/call", "slowest call ms"], rows))
        if export_result:
            e = export_result
            print(f"\nExport (JSON lines, every job): {e['jobs']:,} jobs, {e['mb']:,.0f} MB in "
                  f"{e['total_s']:.1f} s ({e['jobs_per_s']:,.0f} jobs/s), first piece after "
                  f"{e['first_ms']:.1f} ms, process peak memory grew "
                  f"{e['max_rss_growth_mb']:.0f} MB")
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"jobs": n, "chunk": args.chunk, "searches": results,
                                   "export": export_result}, indent=2) + "\n")
        bd.say(f"\nwrote {out}")
        return 0
    except Timeout as exc:
        bd.say(f"TIMEOUT: {exc}")
        return 2
    finally:
        if r is not None:
            if args.redis_url:
                with contextlib.suppress(Exception):
                    bd.delete_prefix(r, prefix)
            r.close()
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
