"""Server time of the dashboard's pages, and its live updates, on a big Redis.

    .venv/bin/python bench/dashboard.py [--quick] [--redis-url URL] [--prefix P]
        [--requests N] [--warmup N] [--ws-jobs N] [--no-profile] [--timeout S] [--out FILE]

One sitting against one Redis: a private server started here
(``queuecore.embedded.EmbeddedRedis``, no persistence) unless ``--redis-url``
(then the keys go under a prefix of their own, deleted at the end).

Data
    ``big``: N = 1,000,000 completed jobs (100,000 with ``--quick``), written
    straight in BullMQ's layout by a Lua script (job hashes, the completed zset
    scored by finishedOn, the id counter, meta with opts.maxLenEvents).
    ``small-01`` .. ``small-49``: a few hundred jobs each through the queuecore
    API: completed and failed (run by in-process workers, one in five fails),
    waiting, delayed, prioritized; every seventh queue paused, five queues with
    a worker holding two jobs active for the whole run.

Pages (Django's test ``Client`` in this process, a logged-in staff superuser,
DEBUG off): server time per request, median and p95 of ``--requests`` after
``--warmup``, with the Redis commands run meanwhile (those inside Lua scripts
included) and their time in Redis, from INFO commandstats. Queue discovery
(SCAN over the whole keyspace) is done once per process by ``queuecore/discovery.py``:
the overview is timed cold (cache cleared before each request) and warm (cache
refreshed, untimed, before it would expire), and discovery itself is timed
beside two variants to show what a fix would gain. Every page over the target
(100 ms) is profiled (cProfile): top functions printed, stats saved to
``var/bench/dashboard-<page>.prof``.

Live updates (Channels' ``WebsocketCommunicator`` in this process, the
superuser in scope, the app's own consumers with their render timed): a queue
pre-filled with ``--ws-jobs`` jobs (300,000; 100,000 with ``--quick``) is run
by a queuecore worker process (bench/qc_worker.py, concurrency 50, async no-op)
while one page is open: ``/ws/queues/<q>/`` (the queue page), then, on a second
queue, ``/ws/queues/`` (the overview). For each push: the completed count it
shows against ZCARD completed when it arrives (jobs behind, and those jobs
over the measured throughput in seconds), and how long ago the shown count
stopped being true (ZCARD polled every 5 ms). Messages per second count the
pushes between the first and the last completion.

Results go to stdout (tables) and var/bench/dashboard.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import itertools
import json
import math
import os
import platform
import pstats
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import redis.asyncio
from processes import LIVE, Timeout, bound, stop_process
from processes import stop_all as stop_processes
from tables import render_table

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
OUT = ROOT / "var" / "bench" / "dashboard.json"
sys.path.insert(0, str(ROOT))  # config/ and dashboard/ when run as bench/dashboard.py

from queuecore import Connection, Job, Queue, Worker  # noqa: E402
from queuecore.embedded import EmbeddedRedis  # noqa: E402

BIG = "big"
SMALL = [f"small-{i:02d}" for i in range(1, 50)]
LIVE_QUEUE = "live-queue"  # run while the queue page is open
LIVE_OVERVIEW = "live-overview"  # run while the overview is open
N_BIG, N_BIG_QUICK = 1_000_000, 100_000
N_WS, N_WS_QUICK = 300_000, 100_000
FILL_BATCH = 25_000  # jobs per Lua call
SMALL_PROCESSED = 120  # per small queue: run by workers, one in five fails
SMALL_WAITING, SMALL_DELAYED, SMALL_PRIORITIZED = 150, 50, 30
HELD_QUEUES = SMALL[3::10]  # a worker keeps two jobs of these active
PAUSED_QUEUES = SMALL[::7]
TARGET_MS = 100.0
POLL_S = 0.005
WS_CONCURRENCY = 50
WS_MAX_S = 180.0
ADMIN = ("bench-admin", "bench-admin-pass")
FILLER = "x" * 56

FILL_LUA = """
-- KEYS[1]: the queue's key prefix ("bull:big:")
-- ARGV: 1 first id, 2 last id, 3 finishedOn of job N, 4 N, 5 data filler
local base = KEYS[1]
local first, last = tonumber(ARGV[1]), tonumber(ARGV[2])
local newest, total, filler = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local zkey = base .. "completed"
local members = {}
for id = first, last do
  local finished = newest - (total - id)
  local data = '{"index":' .. id .. ',"kind":"benchmark","body":"' .. filler .. '"}'
  redis.call("HSET", base .. id, "name", "bench", "data", data,
    "opts", '{"attempts":0}', "timestamp", string.format("%d", finished - 8),
    "processedOn", string.format("%d", finished - 3),
    "finishedOn", string.format("%d", finished), "returnvalue", '{"ok":true}',
    "atm", "1", "ats", "1", "delay", "0", "priority", "0")
  members[#members + 1] = string.format("%d", finished)
  members[#members + 1] = tostring(id)
  if #members >= 2000 then
    redis.call("ZADD", zkey, unpack(members))
    members = {}
  end
end
if #members > 0 then
  redis.call("ZADD", zkey, unpack(members))
end
return last - first + 1
"""


# production settings (DEBUG off) over plain HTTP on loopback, with a key of the bench's own
BENCH_DJANGO = {"DJANGO_SECRET_KEY": "bench-only-key-" + "Zr4wQ8xN2pL6tV9y" * 3,
                "DJANGO_SECURE_SSL_REDIRECT": "0", "DJANGO_SECURE_COOKIES": "0"}


def say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def spread(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "median": statistics.median(values),
            "p95": percentile(values, 0.95), "min": min(values), "max": max(values)}


# -- processes ----------------------------------------------------------------------------

HELD: list[Worker] = []
RELEASE = threading.Event()  # lets the held jobs end


def stop_all() -> None:
    stop_processes()
    RELEASE.set()
    for worker in HELD:
        with contextlib.suppress(Exception):
            worker.close(timeout=10)
    HELD.clear()


def tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-3000:]
    except OSError:
        return ""


# -- filling ------------------------------------------------------------------------------

def fill_big(r: redis.Redis, prefix: str, n: int) -> dict[str, Any]:
    """N completed jobs in BullMQ's layout, FILL_BATCH per Lua call."""
    base = f"{prefix}:{BIG}:"
    script = r.register_script(FILL_LUA)
    newest = int(time.time() * 1000)
    t0 = time.perf_counter()
    for first in range(1, n + 1, FILL_BATCH):
        last = min(n, first + FILL_BATCH - 1)
        script(keys=[base], args=[first, last, newest, n, FILLER])
    r.set(base + "id", n)
    r.hset(base + "meta", mapping={"opts.maxLenEvents": 10000})
    seconds = time.perf_counter() - t0
    got = r.zcard(base + "completed")
    if got != n:
        raise RuntimeError(f"{base}completed holds {got} jobs, expected {n}")
    return {"jobs": n, "seconds": seconds, "jobs_per_s": n / seconds}


async def fill_small(url: str, prefix: str) -> dict[str, Any]:
    """The 49 small queues, through the queuecore API."""
    t0 = time.perf_counter()
    conn = Connection(url)
    queues = [Queue(name, conn, prefix=prefix) for name in SMALL]
    kinds = ("email", "resize", "report", "sync")

    for q in queues:
        await q.aadd_bulk([{"name": kinds[i % 4], "data": {"i": i, "to": f"user{i}@example.com"}}
                           for i in range(SMALL_PROCESSED)])

    async def process(job: Job) -> Any:
        if job.data["i"] % 5 == 0:
            raise ValueError(f"bench failure of job {job.id}")
        return {"ok": job.data["i"]}

    workers = [Worker(name, process, url, prefix=prefix, concurrency=20) for name in SMALL]
    tasks = [asyncio.ensure_future(w.arun()) for w in workers]
    deadline = time.monotonic() + 120
    try:
        while True:
            counts = await asyncio.gather(*(q.aget_job_counts("completed", "failed")
                                            for q in queues))
            if all(c["completed"] + c["failed"] >= SMALL_PROCESSED for c in counts):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the small queues' jobs were not all processed in 120 s")
            await asyncio.sleep(0.05)
    finally:
        await asyncio.gather(*(w.aclose() for w in workers), return_exceptions=True)
        await asyncio.gather(*tasks, return_exceptions=True)

    for k, q in enumerate(queues):
        await q.aadd_bulk([{"name": kinds[i % 4], "data": {"i": i, "state": "waiting"}}
                           for i in range(SMALL_WAITING + k)])
        await q.aadd_bulk([{"name": "later", "data": {"i": i},
                            "opts": {"delay": 3_600_000 + 1000 * i}}
                           for i in range(SMALL_DELAYED)])
        await q.aadd_bulk([{"name": "urgent", "data": {"i": i},
                            "opts": {"priority": 1 + i % 5}}
                           for i in range(SMALL_PRIORITIZED)])
        if q.name in PAUSED_QUEUES:
            await q.apause()
    for q in queues:
        await q.aclose()
    return {"queues": len(queues), "seconds": time.perf_counter() - t0}


async def hold(job: Job) -> Any:
    while not RELEASE.is_set():
        await asyncio.sleep(0.25)
    return None


def start_held_workers(url: str, prefix: str) -> None:
    """Workers that keep two jobs each active (and count as live workers)."""
    for name in HELD_QUEUES:
        worker = Worker(name, hold, url, prefix=prefix, concurrency=2)
        worker.start()  # a thread of its own
        HELD.append(worker)
    r = redis.Redis.from_url(url)
    deadline = time.monotonic() + 30
    while any(r.llen(f"{prefix}:{name}:active") < 2 for name in HELD_QUEUES):
        if time.monotonic() > deadline:
            raise RuntimeError("the held workers did not take their jobs in 30 s")
        time.sleep(0.05)
    r.close()


async def fill_waiting(url: str, prefix: str, name: str, n: int) -> float:
    q = Queue(name, url, prefix=prefix)
    t0 = time.perf_counter()
    for start in range(0, n, 1000):
        await q.aadd_bulk([{"name": "live", "data": {"index": i, "kind": "benchmark",
                                                     "body": FILLER}}
                           for i in range(start, min(n, start + 1000))])
    seconds = time.perf_counter() - t0
    await q.aclose()
    return seconds


# -- Django -------------------------------------------------------------------------------

def setup_django(url: str, prefix: str, var_dir: Path) -> Any:
    """Settings from the environment, as Daphne gets them; migrate; the superuser."""
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "QUEUECORE_REDIS_URL": url,
        "QUEUECORE_PREFIX": prefix,
        "QUEUECORE_VAR_DIR": str(var_dir),
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
        **BENCH_DJANGO,
    })
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    user = get_user_model().objects.create_superuser(ADMIN[0], "admin@example.com", ADMIN[1])
    return user


def redis_counters(r: redis.Redis) -> tuple[int, float]:
    """(commands, server microseconds in them) so far, INFO itself left out."""
    stats = r.info("commandstats")
    calls = usec = 0
    for name, entry in stats.items():
        if name != "cmdstat_info":
            calls += int(entry["calls"])
            usec += float(entry["usec"])
    return calls, usec


def counted(r: redis.Redis, fn: Callable[[], Any]) -> tuple[Any, float, int, float]:
    """(fn's result, its wall seconds, Redis commands it sent, their server ms)."""
    calls0, usec0 = redis_counters(r)
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    calls1, usec1 = redis_counters(r)
    return result, seconds, calls1 - calls0, (usec1 - usec0) / 1000


class Pages:
    """Times the pages with a logged-in Django test client."""

    def __init__(self, args: argparse.Namespace, r: redis.Redis, user: Any,
                 prefix: str) -> None:
        from django.test import Client

        from dashboard import queues as dq
        from dashboard.conf import dashboard_settings

        self.args, self.r, self.prefix = args, r, prefix
        from queuecore import discovery

        self.dq, self.found, self.conf = dq, discovery, dashboard_settings()
        self.client = Client()
        self.client.force_login(user)
        self.results: dict[str, dict[str, Any]] = {}
        self.profiles: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []

    def get(self, url: str) -> tuple[float, int, float, int]:
        """(seconds, Redis commands, their server ms, bytes) of one request; raises
        unless 200."""
        response, seconds, commands, server_ms = counted(self.r, lambda: self.client.get(url))
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: HTTP {response.status_code}")
        return seconds, commands, server_ms, len(response.content)

    def fresh_discovery(self) -> None:
        """Refresh the discovery cache (untimed) unless it has over 2 s to live."""
        key = (self.conf.redis_url, self.conf.prefix)
        hit = self.found._discovered.get(key)
        if hit is None or time.monotonic() - hit[0] > self.found.DISCOVERY_TTL_S - 2.0:
            self.found.forget_discovered()
            self.dq.visible_queues(self.conf)

    def measure(self, label: str, url: str, n: int, warmup: int,
                before_each: Callable[[], None]) -> None:
        try:
            for _ in range(warmup):
                before_each()
                self.get(url)
            samples = []
            for _ in range(n):
                before_each()
                samples.append(self.get(url))
        except Exception as exc:
            say(f"  FAILED   {label}: {exc}")
            self.errors.append(f"{label}: {exc}")
            return
        ms = [s * 1000 for s, _, _, _ in samples]
        entry = {"url": url, **{f"{k}_ms": v for k, v in spread(ms).items() if k != "n"},
                 "n": len(ms), "warmup": warmup,
                 "redis_commands": statistics.median(c for _, c, _, _ in samples),
                 "redis_server_ms": statistics.median(u for _, _, u, _ in samples),
                 "bytes": statistics.median(b for _, _, _, b in samples), "samples_ms": ms}
        self.results[label] = entry
        flag = "  OVER TARGET" if entry["median_ms"] > TARGET_MS else ""
        say(f"  {label:34} median {entry['median_ms']:8.1f} ms, p95 {entry['p95_ms']:8.1f} ms, "
            f"{entry['redis_commands']:.0f} Redis commands "
            f"({entry['redis_server_ms']:.1f} ms in Redis){flag}")

    def urls(self) -> dict[str, tuple[str, Callable[[], None]]]:
        from django.urls import reverse

        pages = -(-self.args.n_big // self.conf.page_size)
        queue = reverse("dashboard:queue", args=[BIG])
        job_id = str(self.args.n_big // 2)
        return {
            "overview (cold: discovery)": (reverse("dashboard:overview"),
                                           self.found.forget_discovered),
            "overview (warm)": (reverse("dashboard:overview"), self.fresh_discovery),
            "big queue, latest tab": (queue, nothing),
            "big queue, completed p1": (queue + "?state=completed&page=1", nothing),
            f"big queue, completed p{pages // 2:,}": (
                queue + f"?state=completed&page={pages // 2}", nothing),
            f"big queue, completed p{pages:,} (last)": (
                queue + f"?state=completed&page={pages}", nothing),
            "job page (completed, big queue)": (
                reverse("dashboard:job", args=[BIG, job_id]), nothing),
            "job page (waiting, small queue)": (
                reverse("dashboard:job", args=[SMALL[0], str(SMALL_PROCESSED + 1)]),
                nothing),
        }

    def run(self) -> None:
        for label, (url, before_each) in self.urls().items():
            cold = label.startswith("overview (cold")
            n = max(5, self.args.requests // 3) if cold else self.args.requests
            self.measure(label, url, n, 1 if cold else self.args.warmup, before_each)

    def discovery(self) -> dict[str, Any]:
        """discover() as the dashboard runs it, beside two variants of a fix."""
        from dashboard.conf import connection

        conn = connection(self.conf.redis_url)
        prefix = self.conf.prefix

        def current() -> list[str]:
            self.found.forget_discovered()
            return self.found.discover(conn, prefix)

        variants = {"discover(): one SCAN pass, COUNT 5000 (a process's first call)": current}
        out: dict[str, Any] = {"keys": self.r.dbsize()}
        expected = None
        for label, fn in variants.items():
            times, commands, server = [], [], []
            for _ in range(3):
                names, seconds, calls, server_ms = counted(self.r, fn)
                times.append(seconds * 1000)
                commands.append(calls)
                server.append(server_ms)
            expected = expected or names
            if names != expected:
                self.errors.append(f"discovery variant {label!r} found other queues")
            out[label] = {"median_ms": statistics.median(times), "min_ms": min(times),
                          "scan_calls": statistics.median(commands),
                          "redis_server_ms": statistics.median(server), "queues": len(names)}
            say(f"  {label:44} {out[label]['median_ms']:8.1f} ms "
                f"({out[label]['redis_server_ms']:.1f} ms in Redis), "
                f"{out[label]['scan_calls']:.0f} SCAN calls, {len(names)} queues")
        self.found.forget_discovered()
        return out

    def profile(self) -> None:
        """cProfile over a few requests of every page over the target."""
        for label, (url, before_each) in self.urls().items():
            entry = self.results.get(label)
            if entry is None or entry["median_ms"] <= TARGET_MS:
                continue
            profiler = cProfile.Profile()
            runs = 3
            for _ in range(runs):
                before_each()
                profiler.enable()
                try:
                    self.client.get(url)
                finally:
                    profiler.disable()
            slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
            path = OUT.parent / f"dashboard-{slug}.prof"
            path.parent.mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(str(path))
            stats = pstats.Stats(profiler)
            top = []
            for sort in ("tottime", "cumulative"):
                ordered = sorted(stats.stats.items(),
                                 key=lambda item: item[1][2 if sort == "tottime" else 3],
                                 reverse=True)
                for (file, line, func), (_, calls, tottime, cumtime, _) in ordered[:15]:
                    top.append({"sort": sort, "function": f"{short_path(file)}:{line}({func})",
                                "calls": calls, "tottime_ms": tottime * 1000 / runs,
                                "cumtime_ms": cumtime * 1000 / runs})
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("tottime").print_stats(15)
            self.profiles[label] = {"runs": runs, "file": str(path), "top": top,
                                    "text": text.getvalue()}


def nothing() -> None:
    """No preparation before a request."""


def short_path(file: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


# -- websockets ---------------------------------------------------------------------------

RENDER_MS: dict[str, list[float]] = {"queue": [], "overview": []}


def timed_router() -> Any:
    """The app's websocket routes, with each consumer's render timed."""
    from channels.routing import URLRouter
    from django.urls import path

    from dashboard.consumers import OverviewConsumer, QueueConsumer

    def timed(kind: str, render: Callable[[], str]) -> Callable[[], str]:
        def run() -> str:
            t0 = time.perf_counter()
            try:
                return render()
            finally:
                RENDER_MS[kind].append((time.perf_counter() - t0) * 1000)

        return run

    class TimedQueue(QueueConsumer):
        def view(self) -> tuple[Any, tuple[str, ...], Callable[[], str]]:
            key, queues, render = super().view()
            return key, queues, timed("queue", render)

    class TimedOverview(OverviewConsumer):
        def view(self) -> tuple[Any, tuple[str, ...], Callable[[], str]]:
            key, queues, render = super().view()
            return key, queues, timed("overview", render)

    return URLRouter([path("ws/queues/", TimedOverview.as_asgi()),
                      path("ws/queues/<str:name>/", TimedQueue.as_asgi())])


TAB_COUNT = re.compile(r'data-state="completed">completed <span class="count">(\d+)</span>')


def shown_completed(kind: str, name: str, html: str) -> int | None:
    if kind == "queue":
        found = TAB_COUNT.search(html)
    else:
        row = re.search(r'<tr id="queue-' + re.escape(name) + r'".*?</tr>', html, re.S)
        found = row and re.search(r'data-state="completed">(\d+)<', row.group(0))
    return int(found.group(1)) if found else None


async def measure_ws(kind: str, name: str, url: str, prefix: str, user: Any, n: int,
                     work: Path) -> dict[str, Any]:
    from channels.testing import WebsocketCommunicator

    ws_path = "/ws/queues/" if kind == "overview" else f"/ws/queues/{name}/"
    completed_key = f"{prefix}:{name}:completed"
    comm = WebsocketCommunicator(timed_router(), ws_path)
    comm.scope["user"] = user
    connected, code = await comm.connect(timeout=15)
    if not connected:
        raise RuntimeError(f"{ws_path}: websocket refused (close code {code})")
    r = redis.asyncio.Redis.from_url(url, decode_responses=True)
    poll_r = redis.asyncio.Redis.from_url(url, decode_responses=True)
    series: list[tuple[float, int]] = []
    messages: list[dict[str, Any]] = []
    proc = None
    poller = None
    err_path = work / f"worker-{kind}.err"
    RENDER_MS[kind].clear()
    try:
        first = await comm.receive_from(timeout=30)  # the push on connect
        if shown_completed(kind, name, first) != 0:
            raise RuntimeError(f"{ws_path}: the first push shows no completed count of 0")

        async def poll() -> None:
            while True:
                series.append((time.monotonic(), int(await poll_r.zcard(completed_key))))
                await asyncio.sleep(POLL_S)

        poller = asyncio.ensure_future(poll())
        cmd = [sys.executable, str(BENCH / "qc_worker.py"), "--url", url, "--queue", name,
               "--prefix", prefix, "--concurrency", str(WS_CONCURRENCY),
               "--max-seconds", str(WS_MAX_S + 30)]
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err)
        LIVE.add(proc)
        t_start = time.monotonic()
        deadline = t_start + WS_MAX_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"{ws_path}: no push showing all {n} jobs completed "
                                   f"within {WS_MAX_S:.0f} s")
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}:\n{tail(err_path)}")
            try:
                html = await comm.receive_from(timeout=min(left, 10))
            except TimeoutError:
                raise RuntimeError(f"{ws_path}: no push for 10 s") from None
            t = time.monotonic()
            now = int(await r.zcard(completed_key))
            shown = shown_completed(kind, name, html)
            if shown is None:
                raise RuntimeError(f"{ws_path}: a push without the completed count")
            messages.append({"t": t, "shown": shown, "zcard": now, "bytes": len(html)})
            if shown >= n:
                break
    finally:
        if poller is not None:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
        if proc is not None:
            stop_process(proc)
        with contextlib.suppress(Exception):
            await comm.disconnect(timeout=10)
        await r.aclose()
        await poll_r.aclose()
    return ws_figures(kind, ws_path, n, t_start, series, messages)


def ws_figures(kind: str, ws_path: str, n: int, t_start: float,
               series: list[tuple[float, int]], messages: list[dict[str, Any]]
               ) -> dict[str, Any]:
    moving = [(t, c) for t, c in series if c > 0]
    if not moving:
        raise RuntimeError(f"{ws_path}: no completion seen while polling")
    t_first = moving[0][0]
    t_done = next((t for t, c in series if c >= n), series[-1][0])
    run_s = max(t_done - t_first, 1e-6)
    throughput = n / run_s

    def went_past(shown: int) -> float | None:
        """When ZCARD completed was first seen above ``shown``."""
        return next((t for t, c in series if c > shown), None)

    during = [m for m in messages if t_first <= m["t"] <= t_done]
    for m in messages:
        m["jobs_behind"] = m["zcard"] - m["shown"]
        past = went_past(m["shown"])
        # how long the pushed count had already been out of date when it arrived
        m["lag_s"] = m["t"] - past if past is not None and past < m["t"] else 0.0
        m["lag_est_s"] = m["jobs_behind"] / throughput
    # what the page shows just before the next push lands: out of date since the
    # count went past the previous push's (the worst moment of each interval)
    ages = []
    for a, b in itertools.pairwise(messages):
        past = went_past(a["shown"])
        if t_first <= b["t"] <= t_done and past is not None and past < b["t"]:
            ages.append((b["t"] - past) * 1000)
    times = [m["t"] for m in messages]
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(times)]
    final = next((m["t"] for m in messages if m["shown"] >= n), None)
    lag_ms = [m["lag_s"] * 1000 for m in during]
    est_ms = [m["lag_est_s"] * 1000 for m in during]
    behind = [float(m["jobs_behind"]) for m in during]
    return {
        "path": ws_path, "jobs": n, "worker_concurrency": WS_CONCURRENCY,
        "worker_start_to_first_completion_s": t_first - t_start,
        "run_s": run_s, "throughput_jobs_per_s": throughput,
        "messages": len(messages), "messages_during_run": len(during),
        "messages_per_s": len(during) / run_s,
        "lag_ms": spread(lag_ms), "lag_est_ms": spread(est_ms),
        "jobs_behind": spread(behind),
        "display_age_before_next_push_ms": spread(ages),
        "interval_ms": spread(gaps),
        "render_ms": spread(list(RENDER_MS[kind])),
        "bytes": spread([float(m["bytes"]) for m in messages]),
        "final_push_after_drain_ms": (final - t_done) * 1000 if final else None,
        "pushes": [{"t_s": round(m["t"] - t_first, 4), "shown": m["shown"],
                    "zcard": m["zcard"], "lag_ms": round(m["lag_s"] * 1000, 1)}
                   for m in messages],
    }


async def run_ws(args: argparse.Namespace, url: str, prefix: str, user: Any,
                 work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, name in (("queue", LIVE_QUEUE), ("overview", LIVE_OVERVIEW)):
        say(f"  filling {name} with {args.ws_jobs:,} waiting jobs")
        fill_s = await fill_waiting(url, prefix, name, args.ws_jobs)
        from queuecore import discovery

        discovery.forget_discovered()  # the overview should know the new queue
        say(f"  ({fill_s:.1f} s) websocket {kind}: worker running {args.ws_jobs:,} jobs")
        try:
            figures = await measure_ws(kind, name, url, prefix, user, args.ws_jobs, work)
        except (Timeout, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            say(f"  FAILED   websocket {kind}: {exc}")
            out[kind] = {"error": str(exc)}
            continue
        out[kind] = figures
        say(f"  {kind}: {figures['messages_per_s']:.2f} msgs/s at "
            f"{figures['throughput_jobs_per_s']:,.0f} jobs/s, lag median "
            f"{figures['lag_ms'].get('median', float('nan')):.0f} ms, "
            f"p95 {figures['lag_ms'].get('p95', float('nan')):.0f} ms, render median "
            f"{figures['render_ms'].get('median', float('nan')):.0f} ms")
    return out


# -- reporting ----------------------------------------------------------------------------

def fmt(value: Any, pattern: str = "{:,.1f}") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return pattern.format(value)


def report(result: dict[str, Any]) -> None:
    meta = result["meta"]
    print()
    print(f"Dashboard at {meta.get('commit')}"
          + (f" (uncommitted: {', '.join(meta['uncommitted'])})" if meta.get("uncommitted")
             else "") + f" on {meta['server']}: {meta['keys']:,} keys; big queue "
          f"{meta['n_big']:,} completed jobs + {len(SMALL)} small queues; "
          f"{meta['cpus']} CPUs; fill {meta['fill']['big']['seconds']:.1f} s "
          f"({meta['fill']['big']['jobs_per_s']:,.0f} jobs/s)")
    pages = result["pages"]
    if pages:
        rows = []
        for label, e in pages.items():
            rows.append([label, str(e["n"]), fmt(e["median_ms"]), fmt(e["p95_ms"]),
                         fmt(e["max_ms"]), fmt(e["redis_commands"], "{:,.0f}"),
                         fmt(e["redis_server_ms"]),
                         fmt(e["bytes"] / 1024, "{:,.1f}"),
                         "OVER" if e["median_ms"] > TARGET_MS else "ok"])
        print()
        print(f"Server time per request (Django test client, in process; target "
              f"< {TARGET_MS:.0f} ms):")
        print(render_table(["page", "n", "median ms", "p95 ms", "max ms", "Redis cmds",
                            "ms in Redis", "KiB", "target"], rows))
    disc = result.get("discovery") or {}
    if disc:
        print()
        print(f"Queue discovery alone ({disc['keys']:,} keys; the dashboard scans once per "
              "process, then refreshes in the background every 30 s):")
        print(render_table(["variant", "median ms", "ms in Redis", "SCAN calls"], [
            [k, fmt(v["median_ms"]), fmt(v["redis_server_ms"]), fmt(v["scan_calls"], "{:,.0f}")]
            for k, v in disc.items() if isinstance(v, dict)]))
    for label, prof in result.get("profiles", {}).items():
        print()
        print(f"Profile of {label!r} ({prof['runs']} requests, per request; {prof['file']}):")
        print(render_table(["function (by own time)", "calls", "tottime ms", "cumtime ms"], [
            [t["function"][-90:], str(t["calls"]), fmt(t["tottime_ms"], "{:,.2f}"),
             fmt(t["cumtime_ms"], "{:,.2f}")]
            for t in prof["top"] if t["sort"] == "tottime"][:12]))
    ws = result.get("websocket") or {}
    if ws:
        rows = []
        for kind, f in ws.items():
            if "error" in f:
                rows.append([kind, "FAILED: " + f["error"].splitlines()[0], *([""] * 11)])
                continue
            rows.append([f"{kind} ({f['path']})", fmt(f["throughput_jobs_per_s"], "{:,.0f}"),
                         fmt(f["run_s"], "{:.1f}"), fmt(f["messages_per_s"], "{:.2f}"),
                         fmt(f["interval_ms"].get("median"), "{:,.0f}"),
                         fmt(f["lag_ms"].get("median"), "{:,.0f}"),
                         fmt(f["lag_ms"].get("p95"), "{:,.0f}"),
                         fmt(f["lag_est_ms"].get("median"), "{:,.0f}"),
                         fmt(f["jobs_behind"].get("median"), "{:,.0f}"),
                         fmt(f["display_age_before_next_push_ms"].get("p95"), "{:,.0f}"),
                         fmt(f["render_ms"].get("median"), "{:,.0f}"),
                         fmt(f["render_ms"].get("max"), "{:,.0f}"),
                         fmt(f["final_push_after_drain_ms"], "{:,.0f}")])
        print()
        print(f"Live updates while a worker (concurrency {WS_CONCURRENCY}) runs "
              f"{meta['ws_jobs']:,} jobs:")
        print(render_table(["page", "jobs/s", "run s", "msgs/s", "interval ms", "lag p50 ms",
                            "lag p95 ms", "lag (behind/rate) p50 ms", "jobs behind p50",
                            "age before next push p95 ms", "render p50 ms", "render max ms",
                            "final push after drain ms"], rows))
    if result["errors"]:
        print("\nFAILED measurements:")
        for error in result["errors"]:
            print(f"  {error.splitlines()[0]}")


def versions(r: redis.Redis) -> dict[str, Any]:
    from importlib.metadata import version as dist_version

    info = r.info("server")
    server = info.get("server_name", "redis")
    return {"server": f"{server} {info.get('valkey_version') or info.get('redis_version')}",
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "packages": {d: dist_version(d) for d in ("django", "channels", "redis",
                                                       "hiredis")}}


def git_state() -> dict[str, Any]:
    """The commit measured, and whether dashboard/ or queuecore/ differ from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "dashboard", "queuecore",
                                "config"], cwd=ROOT, capture_output=True, text=True,
                               timeout=10).stdout.split("\n")
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {"commit": commit, "uncommitted": [line[3:] for line in dirty if line.strip()]}


def delete_prefix(r: redis.Redis, prefix: str) -> None:
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + ":*"
    batch = []
    for key in r.scan_iter(match=pattern, count=10_000):
        batch.append(key)
        if len(batch) >= 5000:
            r.unlink(*batch)
            batch = []
    if batch:
        r.unlink(*batch)


# -- main ---------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{N_BIG_QUICK:,} completed jobs (not {N_BIG:,}), "
                             f"{N_WS_QUICK:,} websocket jobs")
    parser.add_argument("--redis-url", default="", help="use this server (keys under a "
                                                        "prefix of their own, deleted after)")
    parser.add_argument("--prefix", default="", help="key prefix (default bull, or a "
                                                     "random one with --redis-url)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--ws-jobs", type=int, default=0, help="jobs run during each "
                                                               "websocket measurement")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-ws", action="store_true", help="pages only")
    parser.add_argument("--timeout", type=float, default=0,
                        help="give up after this many seconds (default 900, 1800 full)")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    args.n_big = N_BIG_QUICK if args.quick else N_BIG
    args.ws_jobs = args.ws_jobs or (N_WS_QUICK if args.quick else N_WS)
    args.timeout = args.timeout or (900 if args.quick else 1800)
    if args.requests < 1 or args.warmup < 0:
        parser.error("--requests must be >= 1 and --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bound(args.timeout)
    server: EmbeddedRedis | None = None
    r: redis.Redis | None = None
    prefix = args.prefix or ("bull" if not args.redis_url else f"bdash{uuid.uuid4().hex[:6]}")
    work = Path(tempfile.mkdtemp(prefix="qc-dash-bench-"))
    errors: list[str] = []
    try:
        if args.redis_url:
            url = args.redis_url
        else:
            server = EmbeddedRedis(work / "redis", appendonly=False)
            url = server.start()
        r = redis.Redis.from_url(url, decode_responses=True)
        if r.exists(f"{prefix}:{BIG}:id"):
            raise SystemExit(f"{prefix}:{BIG}:id exists on {url}: pick another --prefix")
        meta: dict[str, Any] = {**versions(r), "url": url if args.redis_url else "private",
                                "prefix": prefix, "quick": args.quick, "n_big": args.n_big,
                                "ws_jobs": args.ws_jobs, "requests": args.requests,
                                "warmup": args.warmup, "target_ms": TARGET_MS,
                                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                "loadavg_start": os.getloadavg(), **git_state()}
        say(f"server {meta['server']} at {url}, prefix {prefix}")
        say(f"filling {BIG} with {args.n_big:,} completed jobs (Lua, {FILL_BATCH:,} per call)")
        fill = {"big": fill_big(r, prefix, args.n_big)}
        say(f"  {fill['big']['seconds']:.1f} s ({fill['big']['jobs_per_s']:,.0f} jobs/s)")
        say(f"filling {len(SMALL)} small queues through the queuecore API")
        fill["small"] = asyncio.run(fill_small(url, prefix))
        start_held_workers(url, prefix)
        say(f"  {fill['small']['seconds']:.1f} s; {len(HELD_QUEUES)} workers holding jobs")
        meta["fill"] = fill
        meta["keys"] = r.dbsize()
        meta["redis_memory"] = r.info("memory")["used_memory_human"]

        user = setup_django(url, prefix, work / "var")
        pages = Pages(args, r, user, prefix)
        say(f"pages ({args.requests} requests after {args.warmup} warm-ups; "
            f"{meta['keys']:,} keys)")
        pages.run()
        say("queue discovery")
        discovery = pages.discovery()
        if not args.no_profile:
            say("profiling the pages over the target")
            pages.profile()
        errors += pages.errors

        websocket: dict[str, Any] = {}
        if not args.no_ws:
            say("websocket pushes")
            websocket = asyncio.run(run_ws(args, url, prefix, user, work))
            errors += [f"websocket {k}: {v['error']}" for k, v in websocket.items()
                       if "error" in v]
        signal.alarm(0)
        meta["loadavg_end"] = os.getloadavg()
        meta["keys_end"] = r.dbsize()
        result = {"meta": meta, "pages": pages.results, "discovery": discovery,
                  "profiles": pages.profiles, "websocket": websocket, "errors": errors}
        report(result)
        for label, prof in pages.profiles.items():
            print(f"\npstats of {label!r} ({prof['runs']} requests, sorted by own time):")
            print(prof["text"].strip())
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, default=str) + "\n")
        say(f"\nwrote {out}")
        return 1 if errors else 0
    except Timeout as exc:
        say(f"TIMEOUT: {exc}")
        return 2
    finally:
        signal.alarm(0)
        stop_all()
        if r is not None:
            if args.redis_url:
                with contextlib.suppress(Exception):
                    delete_prefix(r, prefix)
            r.close()
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
