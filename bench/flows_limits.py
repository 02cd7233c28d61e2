"""Flows and rate limits: queuecore beside Node BullMQ 6.7.0, in one sitting.

    .venv/bin/python bench/flows_limits.py [--reps K] [--only queuecore,node]
        [--redis-url URL] [--timeout S] [--out FILE]

flow add      FlowProducer.add of 1 parent with 1,000 children (~100-byte data
              each), from the caller: queuecore writes it in one script call,
              Node in one MULTI (ms, median of the reps).
flow run      the same flow added while a worker process per queue is idle and
              ready (children: concurrency 50, parent: 1): from the parent's
              creation (its `timestamp`, taken by the producer before the add)
              to its completion (`finishedOn`), in ms, and children run per
              second. Node's producer process start-up is thus left out.
limiter       10,000 jobs, pre-added, through one worker process (concurrency
              50) with limiter max 2,000 per 1,000 ms. From the jobs'
              processedOn, cut into BullMQ's fixed windows (a window opens with
              the first start after the previous one expired): how long after
              the previous window expired each window's first job started (the
              worker's delay in taking up a reopened window; mean), and the
              most jobs started in one window (must be <= 2,000).
limiter cost  20,000 no-op jobs, concurrency 50, with a limiter that is never
              reached (1,000,000 per 1,000 ms): jobs/s from the first start to
              the last finish, beside the same run without a limiter.

Workers: bench/qc_worker.py and bench/node/worker.js (async no-op). Results go to
stdout and var/bench/flows_limits.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import redis
from processes import Timeout, bound, stop_all
from tables import render_table
from throughput import (
    ROOT,
    delete_queue,
    payload,
    run_node,
    worker_command,
    worker_process,
)

from queuecore import FlowProducer, Queue
from queuecore.embedded import EmbeddedRedis

OUT = ROOT / "var" / "bench" / "flows_limits.json"
PEERS = ("queuecore", "node")
PREFIX = "bench"
CHILDREN = 1000
LIMIT_JOBS, LIMIT_MAX, LIMIT_MS = 10_000, 2_000, 1_000
COST_JOBS = 20_000
POLL_S = 0.002


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def name(test: str) -> str:
    return f"{test}-{uuid.uuid4().hex[:8]}"


def wait_workers(url: str, queues: list[str], timeout: float = 30.0) -> None:
    """Until every queue has a worker connected (blocking on its marker)."""
    deadline = time.monotonic() + timeout
    for queue_name in queues:
        with Queue(queue_name, url, prefix=PREFIX) as q:
            while not q.get_workers():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no worker on {queue_name} after {timeout} s")
                time.sleep(0.05)
    time.sleep(0.3)  # let them reach their blocking wait


def flow_add(peer: str, url: str, reps: int) -> list[float]:
    parent_q, child_q = name("flow-add-p"), name("flow-add-c")
    try:
        if peer == "node":
            return run_node("flow.js", {"url": url, "prefix": PREFIX, "queue": parent_q,
                                        "childQueue": child_q, "children": CHILDREN,
                                        "reps": reps}, 300)["add_ms"]
        times = []
        with FlowProducer(url, prefix=PREFIX) as flows:
            for _ in range(reps):
                tree = {"name": "parent", "queue_name": parent_q, "data": payload(-1),
                        "children": [{"name": "child", "queue_name": child_q,
                                      "data": payload(i)} for i in range(CHILDREN)]}
                start = time.perf_counter()
                flows.add(tree)
                times.append((time.perf_counter() - start) * 1000)
        return times
    finally:
        r = redis.Redis.from_url(url)
        delete_queue(r, PREFIX, parent_q)
        delete_queue(r, PREFIX, child_q)
        r.close()


def flow_run(peer: str, url: str, work: Path) -> dict[str, float]:
    parent_q, child_q = name("flow-run-p"), name("flow-run-c")
    r = redis.Redis.from_url(url, decode_responses=True)
    try:
        with worker_process(worker_command(peer, url, PREFIX, child_q, 50, 300),
                            work / f"{peer}-flow-children.err"), \
                worker_process(worker_command(peer, url, PREFIX, parent_q, 1, 300),
                               work / f"{peer}-flow-parent.err"):
            wait_workers(url, [child_q, parent_q])
            if peer == "node":
                parent = run_node("flow.js", {"url": url, "prefix": PREFIX, "queue": parent_q,
                                              "childQueue": child_q, "children": CHILDREN},
                                  300)["parent"]
            else:
                with FlowProducer(url, prefix=PREFIX) as flows:
                    parent = flows.add({"name": "parent", "queue_name": parent_q,
                                        "data": payload(-1),
                                        "children": [{"name": "child", "queue_name": child_q,
                                                      "data": payload(i)}
                                                     for i in range(CHILDREN)]}).job.id
            done_key = f"{PREFIX}:{parent_q}:completed"
            deadline = time.monotonic() + 120
            while r.zscore(done_key, parent) is None:
                if time.monotonic() > deadline:
                    raise RuntimeError("the flow's parent did not complete in 120 s")
                time.sleep(POLL_S)
            created, finished = r.hmget(f"{PREFIX}:{parent_q}:{parent}", "timestamp",
                                        "finishedOn")
            ms = int(finished) - int(created)
        return {"ms": ms, "children_per_s": CHILDREN / ms * 1000}
    finally:
        delete_queue(r, PREFIX, parent_q)
        delete_queue(r, PREFIX, child_q)
        r.close()


def fill(url: str, queue_name: str, n: int) -> None:
    with Queue(queue_name, url, prefix=PREFIX) as q:
        for i in range(0, n, 1000):
            q.add_bulk([{"name": "job", "data": payload(j)} for j in range(i, min(n, i + 1000))])


def run_jobs(peer: str, url: str, work: Path, n: int, limiter: tuple[int, int] | None,
             test: str) -> list[tuple[int, int]]:
    """(processedOn, finishedOn) of every job, after one worker process ran them."""
    queue_name = name(test)
    r = redis.Redis.from_url(url, decode_responses=True)
    try:
        fill(url, queue_name, n)
        cmd = worker_command(peer, url, PREFIX, queue_name, 50, 300)
        if limiter and peer == "queuecore":
            cmd += ["--limiter", f"{limiter[0]}/{limiter[1]}"]
        elif limiter:
            params = json.loads(cmd[-1])
            params["limiter"] = {"max": limiter[0], "duration": limiter[1]}
            cmd[-1] = json.dumps(params)
        done_key = f"{PREFIX}:{queue_name}:completed"
        with worker_process(cmd, work / f"{peer}-{test}.err"):
            deadline = time.monotonic() + 120
            while r.zcard(done_key) < n:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{peer} {test}: {r.zcard(done_key)}/{n} after 120 s")
                time.sleep(0.01)
        ids = r.zrange(done_key, 0, -1)
        pipe = r.pipeline(transaction=False)
        for job_id in ids:
            pipe.hmget(f"{PREFIX}:{queue_name}:{job_id}", "processedOn", "finishedOn")
        return sorted((int(p), int(f)) for p, f in pipe.execute())
    finally:
        delete_queue(r, PREFIX, queue_name)
        r.close()


def limiter_figures(times: list[tuple[int, int]]) -> dict[str, float]:
    starts = [p for p, _ in times]
    windows: list[int] = []  # jobs started per fixed window
    opened: list[int] = []  # each window's first start
    for t in starts:
        if not opened or t >= opened[-1] + LIMIT_MS:
            opened.append(t)
            windows.append(0)
        windows[-1] += 1
    delays = [b - a - LIMIT_MS for a, b in itertools.pairwise(opened)]
    return {"windows": len(windows), "max_in_window": max(windows),
            "late_ms_per_window": statistics.mean(delays) if delays else 0.0,
            "span_ms": starts[-1] - starts[0]}


def rate(times: list[tuple[int, int]]) -> float:
    span = max(f for _, f in times) - min(p for p, _ in times)
    return len(times) / span * 1000 if span else float("inf")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--only", default=",".join(PEERS))
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    peers = [p for p in args.only.split(",") if p]
    work = ROOT / "var" / "bench" / "flows_limits"
    work.mkdir(parents=True, exist_ok=True)
    bound(args.timeout)
    server = None
    url = args.redis_url
    try:
        if not url:
            server = EmbeddedRedis(work / "redis", appendonly=False)
            url = server.start()
        results: dict[str, dict[str, Any]] = {p: {} for p in peers}
        for rep in range(args.reps):
            for peer in peers:
                say(f"rep {rep + 1}/{args.reps}: {peer}")
                res = results[peer]
                res.setdefault("flow_add_ms", []).extend(flow_add(peer, url, 1))
                res.setdefault("flow_run", []).append(flow_run(peer, url, work))
                res.setdefault("limiter", []).append(limiter_figures(run_jobs(
                    peer, url, work, LIMIT_JOBS, (LIMIT_MAX, LIMIT_MS), "limiter")))
                res.setdefault("limited_rate", []).append(rate(run_jobs(
                    peer, url, work, COST_JOBS, (1_000_000, 1_000), "limiter-cost")))
                res.setdefault("unlimited_rate", []).append(rate(run_jobs(
                    peer, url, work, COST_JOBS, None, "no-limiter")))
        rows = []

        def med(peer: str, key: str, sub: str | None = None) -> float:
            values = results[peer][key]
            return statistics.median(v[sub] if sub else v for v in values)

        for label, key, sub, fmt in (
                ("flow add, 1+1,000 jobs (ms)", "flow_add_ms", None, "{:,.1f}"),
                ("flow run, add to parent done (ms)", "flow_run", "ms", "{:,.0f}"),
                ("flow run, children/s", "flow_run", "children_per_s", "{:,.0f}"),
                ("limiter 2,000/s: window taken up late by (ms)", "limiter",
                 "late_ms_per_window",
                 "{:,.1f}"),
                ("limiter 2,000/s: most starts in a window", "limiter", "max_in_window",
                 "{:,.0f}"),
                ("limiter never reached, c=50 (jobs/s)", "limited_rate", None, "{:,.0f}"),
                ("no limiter, c=50 (jobs/s)", "unlimited_rate", None, "{:,.0f}")):
            row = [label] + [fmt.format(med(p, key, sub)) for p in peers]
            if len(peers) == 2:
                a, b = med(peers[0], key, sub), med(peers[1], key, sub)
                row.append(f"{a / b:.2f}" if b else "-")
            rows.append(row)
        headers = ["measure", *peers] + (["ratio"] if len(peers) == 2 else [])
        print(f"median of {args.reps} reps; one Redis ({url}); {CHILDREN} children; "
              f"limiter {LIMIT_MAX}/{LIMIT_MS} ms over {LIMIT_JOBS:,} jobs")
        print(render_table(headers, rows))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"peers": peers, "results": results}, indent=2))
        return 0
    except Timeout as exc:
        say(str(exc))
        return 2
    finally:
        stop_all()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
