"""What idle workers cost Redis: connections held and commands per second.

    .venv/bin/python bench/connections.py [--workers N] [--seconds S] [--settle S]
        [--only queuecore,node,node-shared] [--redis-url URL]

Each peer starts N workers, one per queue, all in one process, with nothing
to do: queuecore's share one ``Connection`` (as ``runworker`` does), Node
BullMQ 6.7.0's (bench/node/idle_workers.js) each get a connection of their
own, as bench/node/worker.js does ("node-shared": one IORedis instance given
to every worker). After ``--settle`` seconds (start-up done), the figures:

connections   clients in CLIENT LIST, this script's own left out;
commands/s    INFO commandstats deltas over ``--seconds`` (at least one
              stalled-jobs interval, 30 s), this script's INFO and CLIENT
              LIST calls left out; the busiest commands are listed.

A private server (``queuecore.embedded.EmbeddedRedis``) is used unless
``--redis-url``; every peer gets a fresh one, or a flushed database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from processes import LIVE, stop_process
from tables import render_table

ROOT = Path(__file__).resolve().parents[1]
PEERS = ("queuecore", "node", "node-shared")
LABELS = {"queuecore": "queuecore (one Connection)", "node": "BullMQ 6.7.0 (Node)",
          "node-shared": "BullMQ 6.7.0 (Node, one IORedis)"}
OWN_COMMANDS = ("info", "client|list", "client", "ping", "hello", "client|setinfo")


def say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def child(url: str, queue: str, n: int) -> None:
    """The queuecore side: N idle workers in one loop, one Connection."""
    from queuecore import Connection, Worker

    async def noop(job: Any) -> None:
        return None

    async def main() -> None:
        connection = Connection(url)
        workers = [Worker(f"{queue}-{i}", noop, connection) for i in range(n)]
        runs = [asyncio.ensure_future(w.arun()) for w in workers]
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(json.dumps({"ready": True}), flush=True)
        await stop.wait()
        await asyncio.gather(*(w.aclose() for w in workers))
        await asyncio.gather(*runs, return_exceptions=True)
        await connection.aclose()

    asyncio.run(main())


def start(peer: str, url: str, n: int) -> subprocess.Popen[bytes]:
    if peer == "queuecore":
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", url, "idle", str(n)]
    else:
        node = shutil.which("node")
        if not node:
            raise RuntimeError("node is not on PATH")
        params = {"url": url, "queue": "idle", "workers": n, "shared": peer == "node-shared"}
        cmd = [node, str(ROOT / "bench" / "node" / "idle_workers.js"), json.dumps(params)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this tree's queuecore
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE)
    LIVE.add(proc)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if b"ready" not in line:
        stop_process(proc)
        raise RuntimeError(f"{peer} workers did not start")
    return proc


def command_counts(r: redis.Redis) -> dict[str, int]:
    stats = r.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def measure(peer: str, url: str, n: int, settle: float, seconds: float) -> dict[str, Any]:
    r = redis.Redis.from_url(url, decode_responses=True)
    r.flushdb()
    own = r.client_id()
    proc = start(peer, url, n)
    try:
        time.sleep(settle)
        before, t0 = command_counts(r), time.monotonic()
        time.sleep(seconds)
        after, t1 = command_counts(r), time.monotonic()
        clients = [c for c in r.client_list() if int(c["id"]) != own]
    finally:
        stop_process(proc)
        r.close()
    deltas = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    for name in OWN_COMMANDS:  # two INFO calls were made in between: ours
        deltas.pop(name, None)
    deltas = {k: v for k, v in deltas.items() if v > 0}
    rate = sum(deltas.values()) / (t1 - t0)
    top = sorted(deltas.items(), key=lambda kv: -kv[1])[:5]
    return {"connections": len(clients), "commands_per_s": rate,
            "top": {k: v / (t1 - t0) for k, v in top}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--only", default="queuecore,node")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    sys.path.insert(0, str(ROOT))
    from queuecore.embedded import EmbeddedRedis

    peers = [p for p in args.only.split(",") if p]
    unknown = set(peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown peers {sorted(unknown)}; known: {', '.join(PEERS)}")
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="qc-conn-") as tmp:
        for peer in peers:
            server = None
            url = args.redis_url
            if not url:
                server = EmbeddedRedis(Path(tmp) / peer, appendonly=False)
                url = server.start()
            try:
                say(f"{LABELS[peer]}: {args.workers} idle workers, "
                    f"{args.settle:g} s + {args.seconds:g} s")
                results[peer] = measure(peer, url, args.workers, args.settle, args.seconds)
            finally:
                if server is not None:
                    server.stop()
    rows = [[LABELS[p], f"{res['connections']}", f"{res['commands_per_s']:.1f}",
             ", ".join(f"{k} {v:.1f}" for k, v in res["top"].items())]
            for p, res in results.items()]
    print(f"{args.workers} idle workers in one process, commands over {args.seconds:g} s")
    print(render_table(["peer", "connections", "commands/s", "busiest (per s)"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
