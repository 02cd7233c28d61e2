"""Throughput, latency and memory of queuecore beside Node BullMQ and PyPI bullmq.

    .venv/bin/python bench/throughput.py [--quick] [--reps K] [--only queuecore,node,python]
        [--tests enqueue,bulk,process,latency] [--redis-url URL] [--profile-dir DIR]
        [--retries R] [--quiet-wait S] [--timeout S] [--out FILE]

All peers run in one sitting against one Redis: a private server started here
(``queuecore.embedded.EmbeddedRedis``, no persistence) unless ``--redis-url``.
Every measurement uses a queue of its own, which is deleted afterwards.

Measurements (N divided by 10 with ``--quick``; medians of ``--reps`` runs):

enqueue   N=20,000 jobs added one at a time, each add awaited (jobs/s).
bulk      N=100,000 jobs added in chunks of 1,000 (jobs/s).
process   N=20,000 pre-added no-op jobs run by one worker *process* at
          concurrency 1 and 50: from spawning the process to the last
          completion seen in Redis (``ZCARD <prefix>:<queue>:completed`` polled
          every 5 ms), start-up included (jobs/s); "steady" counts from the
          first completion seen.
latency   one idle worker process (concurrency 1); 20 warm-up jobs, then 500
          sequential jobs: the producer adds a job and reads the queue's events
          stream (XREAD BLOCK) until that job's "completed" event. The same
          method, in the producer's language, for every peer (p50, p99 ms).
memory    after the concurrency-1 run: MEMORY USAGE of every completed job's
          hash plus the completed zset's share, per job (bytes).

Producers: queuecore and bullmq-py run in this process (asyncio; queuecore's
sync API is measured too, as an extra row); Node BullMQ runs bench/node/produce.js.
Workers: bench/qc_worker.py, bench/bullmq_py_worker.py, bench/node/worker.js.

Diagnostics per job (second table, and the JSON): producer or worker-process
CPU (the worker's includes its start-up), Redis CPU, commands and read events
(about one per client round trip), from INFO deltas minus this script's polls.

The box is assumed idle otherwise. Each measurement waits (``--quiet-wait``)
until other processes (and other VMs, as steal time) take < 5% of the CPUs, and
is repeated (``--retries``) when they took >= 10% during it; what stays
disturbed is flagged.

Results go to stdout (tables) and var/bench/throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis
import redis.asyncio
from processes import LIVE, Timeout, bound, stop_all, stop_process
from tables import render_table

import queuecore
from queuecore.embedded import EmbeddedRedis

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
NODE_DIR = BENCH / "node"
OUT = ROOT / "var" / "bench" / "throughput.json"

PEERS = ("queuecore", "node", "python")
LABELS = {
    "queuecore": "queuecore",
    "queuecore-sync": "queuecore (sync API)",
    "node": "BullMQ 6.7.0 (Node)",
    "python": "bullmq 3.4.4 (Python)",
}
# equal-length codes, so that key names (and so MEMORY USAGE) are comparable
CODES = {"queuecore": "qc", "queuecore-sync": "qs", "node": "nd", "python": "py"}
TESTS = ("enqueue", "bulk", "process", "latency")

N_ENQUEUE = 20_000
N_BULK = 100_000
N_PROCESS = 20_000
N_LATENCY = 500
WARMUP = 20
CHUNK = 1000
CONCURRENCIES = (1, 50)
POLL_S = 0.005
OTHER_LOAD_WARN = 0.10  # share of all CPUs used by other processes: retry, then flag
QUIET_SHARE = 0.05  # ... below which a measurement may start

FILLER = "x" * 56


def payload(i: int) -> dict[str, Any]:
    """~100 bytes of JSON (compact); bench/node/common.js builds the same."""
    return {"index": i, "kind": "benchmark", "body": FILLER}


def say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


# -- subprocesses -------------------------------------------------------------------------





def children_cpu_s() -> tuple[float, float]:
    """(user, system) CPU seconds of the waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime, usage.ru_stime


def node_binary() -> str:
    node = shutil.which("node")
    if not node:
        raise RuntimeError("node is not on PATH")
    if not (ROOT / "node_modules" / "bullmq").is_dir():
        raise RuntimeError("node_modules/bullmq is missing (npm ci)")
    return node


def run_node(script: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run bench/node/<script> to its end; its last stdout line is JSON."""
    params = {**params, "maxSeconds": timeout + 5}
    proc = subprocess.Popen([node_binary(), str(NODE_DIR / script), json.dumps(params)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    LIVE.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"node {script} did not finish in {timeout:.0f} s") from None
    finally:
        stop_process(proc, grace=2.0)  # a no-op when it has ended
    if proc.returncode != 0:
        raise RuntimeError(f"node {script} exited with {proc.returncode}:\n"
                           f"{err.decode(errors='replace')[-3000:]}")
    return json.loads(out.decode().strip().splitlines()[-1])


def worker_command(peer: str, url: str, prefix: str, queue: str, concurrency: int,
                   max_seconds: float, profile: str = "") -> list[str]:
    if peer == "queuecore":
        cmd = [sys.executable, str(BENCH / "qc_worker.py"), "--url", url, "--queue", queue,
               "--prefix", prefix, "--concurrency", str(concurrency),
               "--max-seconds", str(max_seconds)]
        return cmd + (["--profile", profile] if profile else [])
    if peer == "python":
        return [sys.executable, str(BENCH / "bullmq_py_worker.py"), "--url", url,
                "--queue", queue, "--prefix", prefix, "--concurrency", str(concurrency),
                "--max-seconds", str(max_seconds)]
    if peer == "node":
        return [node_binary(), str(NODE_DIR / "worker.js"), json.dumps({
            "url": url, "queue": queue, "prefix": prefix, "concurrency": concurrency,
            "maxSeconds": max_seconds})]
    raise ValueError(peer)


@contextlib.contextmanager
def worker_process(cmd: list[str], stderr_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    LIVE.add(proc)
    try:
        yield proc
    finally:
        stop_process(proc)


def tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-3000:]
    except OSError:
        return ""


# -- Redis helpers ------------------------------------------------------------------------

class Stats:
    """Deltas of the server's CPU, command and read counters over a measurement."""

    def __init__(self, r: redis.Redis) -> None:
        self.r = r
        self.before = self._sample()

    def _sample(self) -> tuple[float, int, int]:
        info = self.r.info("all")
        return (float(info["used_cpu_sys"]) + float(info["used_cpu_user"]),
                int(info["total_commands_processed"]), int(info.get("total_reads_processed", 0)))

    def per_job(self, n: int, own_commands: int = 0) -> dict[str, float]:
        after = self._sample()
        # our own polling: own_commands plus the two INFO calls
        cmds = after[1] - self.before[1] - own_commands - 2
        reads = after[2] - self.before[2] - own_commands - 2
        return {"redis_cpu_us_per_job": (after[0] - self.before[0]) * 1e6 / n,
                "redis_cmds_per_job": cmds / n, "redis_reads_per_job": reads / n}


class OtherLoad:
    """CPU that the benchmark did not get during a measurement, as a share of all
    CPUs: busy CPU (/proc/stat) minus this process, its waited-for children and
    the Redis server (other processes), plus steal time (other virtual machines).
    Read ``share()`` after the children are reaped."""

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, r: redis.Redis) -> None:
        self.r = r
        self.before = self._sample()

    def _sample(self) -> tuple[float, float, float, float, float]:
        try:
            fields = [int(f) for f in
                      Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
            # user nice system idle iowait irq softirq steal
            busy = (fields[0] + fields[1] + fields[2] + fields[5] + fields[6]) / self.TICK
            steal = fields[7] / self.TICK
        except (OSError, ValueError, IndexError):
            busy = steal = 0.0
        t = os.times()
        info = self.r.info("cpu")
        server = float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
        return (busy, steal, t.user + t.system + t.children_user + t.children_system, server,
                time.monotonic())

    def share(self) -> float:
        after = self._sample()
        busy, steal, ours, server, wall = (a - b for a, b in
                                           zip(after, self.before, strict=True))
        lost = max(0.0, busy - ours - server) + max(0.0, steal)
        return lost / (wall * (os.cpu_count() or 1)) if wall > 0 else 0.0


def delete_queue(r: redis.Redis, prefix: str, queue: str) -> int:
    deleted = 0
    for _ in range(100):  # a few passes: SCAN may miss keys deleted under it
        batch = list(r.scan_iter(match=f"{prefix}:{queue}:*", count=5000))
        batch += [k for k in (f"{prefix}:{queue}",) if r.exists(k)]
        if not batch:
            break
        pipe = r.pipeline(transaction=False)
        for i in range(0, len(batch), 1000):
            pipe.delete(*batch[i:i + 1000])
        deleted += sum(pipe.execute())
    return deleted


def memory_per_job(r: redis.Redis, prefix: str, queue: str) -> dict[str, Any]:
    base = f"{prefix}:{queue}:"
    ids = r.zrange(base + "completed", 0, -1)
    if not ids:
        raise RuntimeError(f"no completed jobs in {base}completed")
    hashes = 0
    for i in range(0, len(ids), 1000):
        pipe = r.pipeline(transaction=False)
        for job_id in ids[i:i + 1000]:
            pipe.execute_command("MEMORY", "USAGE", base + job_id, "SAMPLES", "0")
        hashes += sum(v or 0 for v in pipe.execute())
    zset = r.execute_command("MEMORY", "USAGE", base + "completed", "SAMPLES", "0") or 0
    events = r.execute_command("MEMORY", "USAGE", base + "events", "SAMPLES", "0") or 0
    n = len(ids)
    sample = r.hgetall(base + ids[-1])
    return {
        "bytes_per_completed_job": (hashes + zset) / n,
        "job_hash_bytes": hashes / n,
        "completed_zset_bytes_per_job": zset / n,
        "events_stream_bytes_per_job": events / n,
        "job_hash_fields": sorted(sample),
    }


# -- producers ----------------------------------------------------------------------------

class Producer:
    """One peer's producer: enqueue one at a time, add in bulk, latency jobs."""

    def __init__(self, peer: str, url: str, prefix: str) -> None:
        self.peer, self.url, self.prefix = peer, url, prefix

    # Python peers run in this process, each measurement in an event loop of its own.

    async def _py_queue(self, queue: str) -> tuple[Any, Callable[[int], Any],
                                                   Callable[[list[dict[str, Any]]], Any],
                                                   Callable[[], Any]]:
        """(queue, add(i) -> job id, add_bulk(specs), close()) of a Python peer."""
        if self.peer == "queuecore":
            q = queuecore.Queue(queue, self.url, prefix=self.prefix)
            await q.connection.async_client.ping()

            async def add(i: int) -> str:
                return (await q.aadd("bench", payload(i))).id

            async def close() -> None:
                await q.aclose()

            return q, add, q.aadd_bulk, close
        import bullmq

        bq = bullmq.Queue(queue, {"connection": self.url, "prefix": self.prefix})
        await bq.client.ping()

        async def badd(i: int) -> str:
            return str((await bq.add("bench", payload(i))).id)

        return bq, badd, bq.addBulk, bq.close

    async def _enqueue(self, queue: str, n: int) -> dict[str, float]:
        _, add, _, close = await self._py_queue(queue)
        gc.collect()
        cpu0, t0 = time.process_time(), time.perf_counter()
        for i in range(n):
            await add(i)
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        await close()
        return {"seconds": seconds, "cpu_s": cpu}

    async def _bulk(self, queue: str, n: int, chunk: int) -> dict[str, float]:
        _, _, add_bulk, close = await self._py_queue(queue)
        gc.collect()
        cpu0, t0 = time.process_time(), time.perf_counter()
        for start in range(0, n, chunk):
            await add_bulk([{"name": "bench", "data": payload(i)}
                            for i in range(start, min(n, start + chunk))])
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        await close()
        return {"seconds": seconds, "cpu_s": cpu}

    async def _latency(self, queue: str, n: int, warmup: int) -> list[float]:
        _, add, _, close = await self._py_queue(queue)
        reader = redis.asyncio.Redis.from_url(self.url, decode_responses=True)
        events_key = f"{self.prefix}:{queue}:events"
        last = "0-0"
        out: list[float] = []
        try:
            for i in range(warmup + n):
                deadline = time.monotonic() + (60 if i == 0 else 10)
                t0 = time.perf_counter()
                job_id = await add(i)
                found = False
                while not found:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{self.peer}: job {job_id} not completed in time")
                    reply = await reader.xread({events_key: last}, count=100, block=1000)
                    for _stream, entries in reply or []:
                        for entry_id, fields in entries:
                            last = entry_id
                            if fields.get("event") == "completed" and \
                                    fields.get("jobId") == job_id:
                                found = True
                if i >= warmup:
                    out.append((time.perf_counter() - t0) * 1000)
        finally:
            await reader.aclose()
            await close()
        return out

    # queuecore's sync API: no event loop at all.

    def _sync_run(self, queue: str, n: int, chunk: int) -> dict[str, float]:
        q = queuecore.Queue(queue, self.url, prefix=self.prefix)
        q.connection.sync_client.ping()
        gc.collect()
        cpu0, t0 = time.process_time(), time.perf_counter()
        if chunk:
            for start in range(0, n, chunk):
                q.add_bulk([{"name": "bench", "data": payload(i)}
                            for i in range(start, min(n, start + chunk))])
        else:
            for i in range(n):
                q.add("bench", payload(i))
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        q.close()
        return {"seconds": seconds, "cpu_s": cpu}

    # Public: every peer.

    def enqueue(self, queue: str, n: int, timeout: float) -> dict[str, float]:
        if self.peer == "queuecore-sync":
            return self._sync_run(queue, n, 0)
        if self.peer == "node":
            return run_node("produce.js", {"url": self.url, "queue": queue, "prefix": self.prefix,
                                           "mode": "one", "n": n}, timeout)
        return asyncio.run(asyncio.wait_for(self._enqueue(queue, n), timeout))

    def bulk(self, queue: str, n: int, timeout: float, chunk: int = CHUNK) -> dict[str, float]:
        if self.peer == "queuecore-sync":
            return self._sync_run(queue, n, chunk)
        if self.peer == "node":
            return run_node("produce.js", {"url": self.url, "queue": queue, "prefix": self.prefix,
                                           "mode": "bulk", "n": n, "chunk": chunk}, timeout)
        return asyncio.run(asyncio.wait_for(self._bulk(queue, n, chunk), timeout))

    def latency(self, queue: str, n: int, warmup: int, timeout: float) -> list[float]:
        if self.peer == "node":
            return run_node("produce.js", {"url": self.url, "queue": queue, "prefix": self.prefix,
                                           "mode": "latency", "n": n, "warmup": warmup},
                            timeout)["latencies_ms"]
        return asyncio.run(asyncio.wait_for(self._latency(queue, n, warmup), timeout))


# -- measurements -------------------------------------------------------------------------

class Bench:
    def __init__(self, args: argparse.Namespace, url: str, work: Path) -> None:
        self.args = args
        self.url = url
        self.work = work
        self.prefix = args.prefix
        self.run_id = uuid.uuid4().hex[:6]
        self.r = redis.Redis.from_url(url, decode_responses=True)
        scale = 10 if args.quick else 1
        self.n_enqueue = N_ENQUEUE // scale
        self.n_bulk = N_BULK // scale
        self.n_process = N_PROCESS // scale
        self.n_latency = N_LATENCY // scale
        self.results: dict[str, dict[str, list[Any]]] = {}
        self.errors: list[str] = []
        self.busy: list[str] = []  # measurements taken while other work was running
        self._staged: list[tuple[str, dict[str, Any]]] = []
        self._worst_other = 0.0

    def queue_name(self, peer: str, test: str, rep: int) -> str:
        return f"b{self.run_id}-{CODES[peer]}-{test}-{rep}"

    def record(self, peer: str, values: dict[str, Any]) -> None:
        """Keep a measurement's figures; attempt() commits them (or drops them to retry)."""
        self._staged.append((peer, values))

    def _commit(self) -> None:
        for peer, values in self._staged:
            slot = self.results.setdefault(peer, {})
            for key, value in values.items():
                slot.setdefault(key, []).append(value)
        self._staged = []

    def load_note(self, test: str, peer: str, share: float) -> str:
        """A warning when other work took a noticeable part of the machine."""
        self._worst_other = max(self._worst_other, share)
        if share < OTHER_LOAD_WARN:
            return ""
        return f"  [other load {100 * share:.0f}% of the CPUs]"

    def wait_quiet(self) -> None:
        """Wait (up to --quiet-wait s) until other processes leave the CPUs alone."""
        deadline = time.monotonic() + self.args.quiet_wait
        while self.args.quiet_wait > 0:
            probe = OtherLoad(self.r)
            time.sleep(0.5)
            share = probe.share()
            if share < QUIET_SHARE:
                return
            if time.monotonic() > deadline:
                say(f"  other processes still use {100 * share:.0f}% of the CPUs; going on")
                return
            say(f"  waiting: other processes use {100 * share:.0f}% of the CPUs")
            time.sleep(2.0)

    def settle(self) -> None:
        gc.collect()
        time.sleep(0.3)

    def run_enqueue(self, peer: str, rep: int) -> None:
        queue = self.queue_name(peer, "enqueue", rep)
        n = self.n_enqueue
        stats, load = Stats(self.r), OtherLoad(self.r)
        res = Producer(peer, self.url, self.prefix).enqueue(queue, n, timeout=120 + n / 100)
        counters = stats.per_job(n)
        other = load.share()
        self.check_waiting(queue, n)
        self.record(peer, {"enqueue_jobs_per_s": n / res["seconds"],
                           "enqueue_other_cpu_share": other,
                           "enqueue_client_cpu_us_per_job": res["cpu_s"] * 1e6 / n,
                           **{f"enqueue_{k}": v for k, v in counters.items()}})
        say(f"  enqueue  {LABELS[peer]:24} {n / res['seconds']:10,.0f} jobs/s"
            + self.load_note("enqueue", peer, other))
        delete_queue(self.r, self.prefix, queue)

    def run_bulk(self, peer: str, rep: int) -> None:
        queue = self.queue_name(peer, "bulk", rep)
        n = self.n_bulk
        stats, load = Stats(self.r), OtherLoad(self.r)
        res = Producer(peer, self.url, self.prefix).bulk(queue, n, timeout=120 + n / 200)
        counters = stats.per_job(n)
        other = load.share()
        self.check_waiting(queue, n)
        self.record(peer, {"bulk_jobs_per_s": n / res["seconds"],
                           "bulk_other_cpu_share": other,
                           "bulk_client_cpu_us_per_job": res["cpu_s"] * 1e6 / n,
                           **{f"bulk_{k}": v for k, v in counters.items()}})
        say(f"  bulk     {LABELS[peer]:24} {n / res['seconds']:10,.0f} jobs/s"
            + self.load_note("bulk", peer, other))
        delete_queue(self.r, self.prefix, queue)

    def check_waiting(self, queue: str, n: int) -> None:
        waiting = self.r.llen(f"{self.prefix}:{queue}:wait")
        if waiting != n:
            raise RuntimeError(f"{queue}: {waiting} jobs waiting, expected {n}")

    def run_process(self, peer: str, rep: int, concurrency: int) -> None:
        queue = self.queue_name(peer, f"c{concurrency}", rep)
        n = self.n_process
        base = f"{self.prefix}:{queue}:"
        Producer(peer, self.url, self.prefix).bulk(queue, n, timeout=120 + n / 200)
        self.check_waiting(queue, n)
        self.settle()
        profile = ""
        if self.args.profile_dir and peer == "queuecore":
            Path(self.args.profile_dir).mkdir(parents=True, exist_ok=True)
            profile = str(Path(self.args.profile_dir).resolve()
                          / f"qc_worker_c{concurrency}_r{rep}.prof")
        timeout = 60 + n / 50
        cmd = worker_command(peer, self.url, self.prefix, queue, concurrency,
                             max_seconds=timeout + 30, profile=profile)
        err_path = self.work / f"{queue}.stderr"
        polls = 0
        first: tuple[float, int] | None = None
        cpu_before = children_cpu_s()
        stats, load = Stats(self.r), OtherLoad(self.r)
        t_spawn = time.perf_counter()
        with worker_process(cmd, err_path) as proc:
            while True:
                done = self.r.zcard(base + "completed")
                polls += 1
                now = time.perf_counter()
                if done and first is None:
                    first = (now, done)
                if done >= n:
                    t_end = now
                    break
                if proc.poll() is not None:
                    raise RuntimeError(f"{peer} worker exited with {proc.returncode} after "
                                       f"{done}/{n} jobs:\n{tail(err_path)}")
                if now - t_spawn > timeout:
                    raise RuntimeError(f"{peer} worker: {done}/{n} jobs after {timeout:.0f} s:"
                                       f"\n{tail(err_path)}")
                time.sleep(POLL_S)
            counters = stats.per_job(n, own_commands=polls)
        other = load.share()
        cpu_after = children_cpu_s()
        worker_user = cpu_after[0] - cpu_before[0]
        worker_sys = cpu_after[1] - cpu_before[1]
        worker_cpu = worker_user + worker_sys
        assert first is not None
        # verify: every job completed exactly once, nothing left behind
        counts = {k: self.r.zcard(base + k) for k in ("completed", "failed")}
        counts |= {k: self.r.llen(base + k) for k in ("wait", "active")}
        if counts != {"completed": n, "failed": 0, "wait": 0, "active": 0}:
            raise RuntimeError(f"{peer} c={concurrency}: unexpected counts {counts}")
        total = t_end - t_spawn
        steady = (n - first[1]) / (t_end - first[0]) if t_end > first[0] else float("nan")
        tag = f"process_c{concurrency}"
        values = {f"{tag}_jobs_per_s": n / total, f"{tag}_steady_jobs_per_s": steady,
                  f"{tag}_startup_s": first[0] - t_spawn, f"{tag}_other_cpu_share": other,
                  f"{tag}_worker_cpu_us_per_job": worker_cpu * 1e6 / n,
                  f"{tag}_worker_user_cpu_us_per_job": worker_user * 1e6 / n,
                  f"{tag}_worker_sys_cpu_us_per_job": worker_sys * 1e6 / n,
                  **{f"{tag}_{k}": v for k, v in counters.items()}}
        if concurrency == CONCURRENCIES[0]:
            mem = memory_per_job(self.r, self.prefix, queue)
            values.update({k: v for k, v in mem.items() if k != "job_hash_fields"})
            self.record(peer, {"job_hash_fields": mem["job_hash_fields"]})
        self.record(peer, values)
        say(f"  process  {LABELS[peer]:24} c={concurrency:<3} {n / total:10,.0f} jobs/s "
            f"(steady {steady:,.0f}, start-up {first[0] - t_spawn:.2f} s, "
            f"worker CPU {worker_cpu * 1e6 / n:,.0f} us/job, "
            f"{100 * worker_sys / max(worker_cpu, 1e-9):.0f}% system)"
            + self.load_note(tag, peer, other))
        delete_queue(self.r, self.prefix, queue)

    def run_latency(self, peer: str, rep: int) -> None:
        queue = self.queue_name(peer, "lat", rep)
        n = self.n_latency
        timeout = 120 + n / 10
        cmd = worker_command(peer, self.url, self.prefix, queue, 1, max_seconds=timeout + 30)
        err_path = self.work / f"{queue}.stderr"
        load = OtherLoad(self.r)
        with worker_process(cmd, err_path) as proc:
            try:
                lat = Producer(peer, self.url, self.prefix).latency(queue, n, WARMUP, timeout)
            except Exception as exc:
                raise RuntimeError(f"{peer} latency: {exc}\nworker (exit {proc.poll()}):\n"
                                   f"{tail(err_path)}") from exc
        if len(lat) != n:
            raise RuntimeError(f"{peer} latency: {len(lat)} samples, expected {n}")
        ordered = sorted(lat)
        p50 = statistics.median(ordered)
        p99 = ordered[max(0, math.ceil(0.99 * n) - 1)]
        other = load.share()
        self.record(peer, {"latency_p50_ms": p50, "latency_p99_ms": p99,
                           "latency_other_cpu_share": other,
                           "latency_mean_ms": statistics.fmean(ordered),
                           "latency_max_ms": ordered[-1]})
        say(f"  latency  {LABELS[peer]:24} p50 {p50:.2f} ms, p99 {p99:.2f} ms"
            + self.load_note("latency", peer, other))
        delete_queue(self.r, self.prefix, queue)

    def run(self) -> None:
        peers = list(self.args.only)
        for rep in range(self.args.reps):
            say(f"rep {rep + 1}/{self.args.reps}")
            order = peers[rep % len(peers):] + peers[:rep % len(peers)]  # rotate per rep
            for test in self.args.tests:
                for peer in order:
                    if test in ("enqueue", "bulk") and peer == "queuecore":
                        self.attempt(f"{test} queuecore-sync rep {rep}",
                                     getattr(self, f"run_{test}"), "queuecore-sync", rep)
                    if test == "process":
                        for concurrency in CONCURRENCIES:
                            self.attempt(f"process c={concurrency} {peer} rep {rep}",
                                         self.run_process, peer, rep, concurrency)
                    else:
                        self.attempt(f"{test} {peer} rep {rep}",
                                     getattr(self, f"run_{test}"), peer, rep)

    def attempt(self, what: str, measure: Callable[..., None], *args: Any) -> None:
        """Run one measurement. A failure is reported and recorded, and the rest go
        on; a run during which other processes took >= OTHER_LOAD_WARN of the CPUs
        is repeated (up to --retries times), and flagged if it stays that way."""
        for attempt_no in range(self.args.retries + 1):
            self.settle()
            self.wait_quiet()
            self._staged, self._worst_other = [], 0.0
            try:
                measure(*args)
            except (Timeout, KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:
                say(f"  FAILED   {what}: {exc}")
                self.errors.append(f"{what}: {exc}")
                self._staged = []
                return
            finally:
                stop_all()
                with contextlib.suppress(Exception):  # whatever that measurement left behind
                    for key in self.r.scan_iter(match=f"{self.prefix}:b{self.run_id}-*",
                                                count=5000):
                        self.r.delete(key)
            if self._worst_other < OTHER_LOAD_WARN or attempt_no == self.args.retries:
                break
            say(f"  again: other processes used {100 * self._worst_other:.0f}% of the CPUs "
                f"during {what}")
        if self._worst_other >= OTHER_LOAD_WARN:
            self.busy.append(f"{what}: {100 * self._worst_other:.0f}%")
        self._commit()


# -- reporting ----------------------------------------------------------------------------

COLUMNS = (  # (metric, header, format, higher is better)
    ("enqueue_jobs_per_s", "enqueue 1-by-1 /s", "{:,.0f}", True),
    ("bulk_jobs_per_s", "bulk add /s", "{:,.0f}", True),
    ("process_c1_jobs_per_s", "process c=1 /s", "{:,.0f}", True),
    ("process_c1_steady_jobs_per_s", "c=1 steady /s", "{:,.0f}", True),
    ("process_c50_jobs_per_s", "process c=50 /s", "{:,.0f}", True),
    ("process_c50_steady_jobs_per_s", "c=50 steady /s", "{:,.0f}", True),
    ("latency_p50_ms", "latency p50 ms", "{:.2f}", False),
    ("latency_p99_ms", "latency p99 ms", "{:.2f}", False),
    ("bytes_per_completed_job", "bytes/completed job", "{:,.0f}", False),
)

DIAGNOSTICS = (  # per job: client/worker CPU, Redis CPU, commands, reads (~round trips)
    ("enqueue", "enqueue_client_cpu_us_per_job", "enqueue_"),
    ("bulk", "bulk_client_cpu_us_per_job", "bulk_"),
    ("process c=1", "process_c1_worker_cpu_us_per_job", "process_c1_"),
    ("process c=50", "process_c50_worker_cpu_us_per_job", "process_c50_"),
)


def summarise(values: list[Any]) -> Any:
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) != len(values) or not numbers:
        return values[-1] if values else None
    return {"median": statistics.median(numbers), "min": min(numbers), "max": max(numbers),
            "values": numbers}


def median_of(summary: dict[str, Any], metric: str) -> float | None:
    entry = summary.get(metric)
    return entry["median"] if isinstance(entry, dict) else None


def report(bench: Bench, meta: dict[str, Any]) -> dict[str, Any]:
    summary = {peer: {k: summarise(v) for k, v in metrics.items()}
               for peer, metrics in bench.results.items()}
    ratios: dict[str, dict[str, float | None]] = {}
    for other, name in (("node", "queuecore/node"), ("python", "queuecore/python")):
        if "queuecore" in summary and other in summary:
            ratios[name] = {}
            for metric, *_ in COLUMNS:
                a, b = median_of(summary["queuecore"], metric), median_of(summary[other], metric)
                ratios[name][metric] = a / b if a is not None and b else None

    def cell(peer: str, metric: str, fmt: str) -> str:
        value = median_of(summary.get(peer, {}), metric)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        entry = summary[peer][metric]
        text = fmt.format(value)
        if bench.args.reps > 1:
            text += f" ({fmt.format(entry['min'])}-{fmt.format(entry['max'])})"
        return text

    order = [p for p in ("queuecore", "queuecore-sync", "node", "python") if p in summary]
    headers = ["peer", *(h for _, h, _, _ in COLUMNS)]
    rows = [[LABELS[p], *(cell(p, m, f) for m, _, f, _ in COLUMNS)] for p in order]
    for name, values in ratios.items():
        rows.append([f"ratio {name}", *("-" if values[m] is None else f"{values[m]:.2f}"
                                        for m, *_ in COLUMNS)])
    print()
    print(f"N: enqueue {bench.n_enqueue:,}, bulk {bench.n_bulk:,} (chunks of {CHUNK}), "
          f"process {bench.n_process:,}, latency {bench.n_latency} after {WARMUP} warm-ups; "
          f"median of {bench.args.reps} rep(s); server {meta['server']}")
    print(render_table(headers, rows))
    print("(ratios are queuecore / peer: above 1 is better for jobs/s, below 1 is better "
          "for ms and bytes)")

    diag_headers = ["peer / phase", "client or worker CPU us/job", "Redis CPU us/job",
                    "Redis cmds/job", "Redis reads/job (~RTT)"]
    diag_rows = []
    for peer in order:
        for phase, cpu_metric, prefix in DIAGNOSTICS:
            if median_of(summary[peer], cpu_metric) is None:
                continue
            diag_rows.append([f"{LABELS[peer]} {phase}",
                              cell(peer, cpu_metric, "{:,.0f}"),
                              cell(peer, prefix + "redis_cpu_us_per_job", "{:,.0f}"),
                              cell(peer, prefix + "redis_cmds_per_job", "{:.1f}"),
                              cell(peer, prefix + "redis_reads_per_job", "{:.2f}")])
    if diag_rows:
        print()
        print("Where the time goes (per job; worker CPU includes process start-up):")
        print(render_table(diag_headers, diag_rows))
    if bench.busy:
        print(f"\nOther processes used >= {100 * OTHER_LOAD_WARN:.0f}% of the CPUs during "
              f"(after {bench.args.retries} retries): " + "; ".join(bench.busy))
    if bench.errors:
        print("\nFAILED measurements (left out above):")
        for error in bench.errors:
            print(f"  {error.splitlines()[0]}")
    return {"meta": meta, "results": summary, "ratios": ratios, "errors": bench.errors,
            "measured_under_other_load": bench.busy}


def versions(r: redis.Redis) -> dict[str, Any]:
    info = r.info("server")
    server = info.get("server_name", "redis")
    version = info.get("valkey_version") or info.get("redis_version")
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        node = None
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    packages = {}
    for dist in ("redis", "hiredis", "msgpack", "bullmq"):
        try:
            packages[dist] = dist_version(dist)
        except PackageNotFoundError:
            packages[dist] = None
    npm = {}
    for name in ("bullmq", "ioredis"):
        pkg = ROOT / "node_modules" / name / "package.json"
        npm[name] = json.loads(pkg.read_text())["version"] if pkg.exists() else None
    return {"server": f"{server} {version}", "python": platform.python_version(),
            "node": node, "pypi": packages, "npm": npm, "cpus": os.cpu_count(),
            "platform": platform.platform()}


# -- main ---------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every N divided by 10")
    parser.add_argument("--reps", type=int, default=1, help="runs per figure (median)")
    parser.add_argument("--only", default=",".join(PEERS),
                        help="peers to run: queuecore,node,python")
    parser.add_argument("--tests", default=",".join(TESTS),
                        help="measurements: enqueue,bulk,process,latency (memory comes "
                             "with process)")
    parser.add_argument("--redis-url", default="", help="use this server instead of a "
                                                        "private one")
    parser.add_argument("--prefix", default="bull")
    parser.add_argument("--profile-dir", default="",
                        help="run the queuecore worker under cProfile, stats written here")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--retries", type=int, default=2,
                        help="repeat a measurement disturbed by other processes up to this "
                             "many times")
    parser.add_argument("--quiet-wait", type=float, default=60,
                        help="before each measurement, wait up to this many seconds for "
                             "other processes to go quiet (0: do not wait)")
    parser.add_argument("--timeout", type=float, default=0,
                        help="give up after this many seconds (default: by N and reps)")
    args = parser.parse_args(argv)
    args.only = [p.strip() for p in args.only.split(",") if p.strip()]
    args.tests = [t.strip() for t in args.tests.split(",") if t.strip()]
    bad = [p for p in args.only if p not in PEERS] + [t for t in args.tests if t not in TESTS]
    if bad or not args.only or not args.tests or args.reps < 1:
        parser.error(f"unknown or empty --only / --tests / --reps ({', '.join(bad)})")
    if not args.timeout:
        args.timeout = (900 if args.quick else 3600) * args.reps
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bound(args.timeout)
    server: EmbeddedRedis | None = None
    with tempfile.TemporaryDirectory(prefix="qc-bench-") as tmp:
        work = Path(tmp)
        try:
            if args.redis_url:
                url = args.redis_url
            else:
                server = EmbeddedRedis(work / "redis", appendonly=False)
                url = server.start()
            bench = Bench(args, url, work)
            meta = {**versions(bench.r), "url": url if args.redis_url else "private",
                    "quick": args.quick, "reps": args.reps, "peers": args.only,
                    "tests": args.tests, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "n": {"enqueue": bench.n_enqueue, "bulk": bench.n_bulk,
                          "process": bench.n_process, "latency": bench.n_latency,
                          "latency_warmup": WARMUP, "bulk_chunk": CHUNK}}
            say(f"server {meta['server']} at {url}; peers {', '.join(args.only)}; "
                f"tests {', '.join(args.tests)}; reps {args.reps}")
            # the figures assume an otherwise idle machine: note when it was not
            meta["loadavg_start"] = os.getloadavg()
            if meta["loadavg_start"][0] > 0.5:
                say(f"warning: load average {meta['loadavg_start'][0]:.2f} at the start; "
                    "other work on this machine skews the figures")
            t0 = time.monotonic()
            try:
                bench.run()
            except Timeout as exc:  # report what was measured
                say(f"TIMEOUT: {exc}")
                bench.errors.append(str(exc))
            signal.alarm(0)
            stop_all()
            meta["seconds"] = round(time.monotonic() - t0, 1)
            meta["loadavg_end"] = os.getloadavg()
            result = report(bench, meta)
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=2) + "\n")
            say(f"\nwrote {out}")
            return 1 if bench.errors else 0
        finally:
            signal.alarm(0)
            stop_all()
            if server is not None:
                server.stop()


if __name__ == "__main__":
    sys.exit(main())
