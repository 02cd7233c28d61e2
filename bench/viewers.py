"""What each open page costs the server: N viewers of one queue page under load.

    .venv/bin/python bench/viewers.py [--viewers 1,10,50] [--window S] [--rate JOBS_PER_S]
        [--daphnes K] [--layer memory|redis] [--out FILE]

One sitting: a private Redis (``queuecore.embedded.EmbeddedRedis``, no
persistence); a producer process adding jobs at ``--rate`` (1,000/s) and a
queuecore worker process (bench/qc_worker.py, concurrency 50, rate-limited to
the same rate) running them; Daphne serving ``config.asgi:application`` with
production settings (DEBUG off, as the browser tests run it) and a SQLite
database of its own; one staff superuser whose session cookie every viewer
sends. A viewer is a minimal websocket client written here (handshake, frames
in, pongs out) on ``/ws/queues/<q>/``, the queue page.

For 0 viewers, then each N of ``--viewers``: connect N viewers, let them settle
(``--settle`` s), then over ``--window`` s measure

- Daphne CPU, % of one core (utime + stime from /proc/<pid>/stat, summed over
  the Daphne processes with ``--daphnes K``);
- Redis commands per second (INFO stats total_commands_processed deltas) and
  the same less the 0-viewer figure (the worker's and producer's share); and
  those of Daphne's own connections alone (CLIENT LIST tot-cmds of the clients
  whose ports /proc shows Daphne holding: Valkey 8 / Redis 7.4 and later),
  which the worker's rate does not blur;
- pushes per second per viewer: minimum and median.

"per extra viewer" divides the difference between the largest and the
smallest N by the viewers added. With ``--daphnes K`` the viewers are spread
round-robin over K Daphne processes; ``--layer redis`` runs them with
channels-redis as the channel layer (bench/viewers_settings.py), the
in-memory layer otherwise.

Results go to stdout (a table) and, with ``--out``, to a JSON file.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from processes import LIVE, bound
from processes import stop_all as stop_processes
from tables import render_table

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from queuecore.embedded import EmbeddedRedis, free_port  # noqa: E402

QUEUE = "viewed"
HOST = "127.0.0.1"
ADMIN = "bench-viewer"
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
DAPHNE = str(VENV_BIN / "daphne")
CLK_TCK = os.sysconf("SC_CLK_TCK")
BACKLOG = 5_000  # jobs waiting before the first window, so the worker never starves
ENV = {"DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "0",
       "DJANGO_SECRET_KEY": "bench-only-key-" + "Zr4wQ8xN2pL6tV9y" * 3,
       "DJANGO_SECURE_SSL_REDIRECT": "0", "DJANGO_SECURE_COOKIES": "0",
       "DJANGO_ALLOWED_HOSTS": f"{HOST},localhost", "PYTHONUNBUFFERED": "1"}

SESSION = f"""
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth import get_user_model
user, _ = get_user_model().objects.get_or_create(username={ADMIN!r})
user.is_staff = user.is_superuser = True
user.set_password("bench-pass")
user.save()
store = import_module(settings.SESSION_ENGINE).SessionStore()
store[SESSION_KEY] = user._meta.pk.value_to_string(user)
store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
store[HASH_SESSION_KEY] = user.get_session_auth_hash()
store.save()
print(settings.SESSION_COOKIE_NAME, store.session_key)
"""


def say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


# -- a minimal websocket client ----------------------------------------------------------


class Viewer:
    """One page's socket: counts the text messages the server pushes."""

    def __init__(self, port: int, path: str, cookie: str) -> None:
        self.port, self.path, self.cookie = port, path, cookie
        self.stamps: list[float] = []
        self.task: asyncio.Task[None] | None = None
        self.error = ""

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write((
            f"GET {self.path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://{HOST}:{self.port}\r\nCookie: {self.cookie}\r\n\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"handshake refused: {head[:200]!r}")
        self.task = asyncio.ensure_future(self._read())

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)  # a client masks every frame it sends
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    async def _read(self) -> None:
        parts: list[bytes] = []
        try:
            while True:
                first, second = await self.reader.readexactly(2)
                size = second & 0x7F
                if size == 126:
                    (size,) = struct.unpack("!H", await self.reader.readexactly(2))
                elif size == 127:
                    (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
                payload = await self.reader.readexactly(size)
                opcode = first & 0x0F
                if opcode == 0x9:  # ping
                    self._send(0xA, payload)
                elif opcode == 0x8:  # close
                    self.error = f"closed by server: {payload[:2].hex()}"
                    return
                elif opcode in (0x0, 0x1, 0x2):
                    parts.append(payload)
                    if first & 0x80:  # the last fragment: one message
                        parts.clear()
                        self.stamps.append(time.monotonic())
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.error = f"connection lost: {exc!r}"

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self._send(0x8, struct.pack("!H", 1000))
            await self.writer.drain()
        if self.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.task, 2)
            self.task.cancel()
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()

    def pushes(self, start: float, end: float) -> int:
        return sum(1 for t in self.stamps if start <= t < end)


# -- the processes ------------------------------------------------------------------------


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def redis_ports(pids: list[int], redis_port: int) -> set[int]:
    """Local ports of the processes' TCP connections to Redis (from /proc)."""
    ports = set()
    for pid in pids:
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and int(remote.split(":")[1], 16) == redis_port:
                ports.add(int(local.split(":")[1], 16))
    return ports


def commands_of(r: redis.Redis, ports: set[int]) -> int:
    """Commands sent so far by the clients on those ports (CLIENT LIST tot-cmds)."""
    return sum(int(c.get("tot-cmds", 0)) for c in r.client_list()
               if int(c["addr"].rsplit(":", 1)[1]) in ports)


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode:
        raise SystemExit(f"manage.py {args[0]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    LIVE.add(proc)
    return proc


def start_daphne(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = spawn([DAPHNE, "-b", HOST, "-p", str(port), "config.asgi:application"], env, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"Daphne exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            with __import__("socket").create_connection((HOST, port), timeout=1):
                return proc, port
        time.sleep(0.2)
    raise SystemExit("Daphne did not listen within 30 s")


def produce(url: str, rate: float) -> None:
    """The producer process: ``rate`` jobs a second in batches of a twentieth of it."""
    from queuecore import Queue

    queue = Queue(QUEUE, url)
    batch = max(1, round(rate / 20))
    step = batch / rate
    next_at = time.monotonic()
    n = 0
    while True:
        queue.add_bulk([{"name": "view", "data": {"i": n + i}} for i in range(batch)])
        n += batch
        next_at += step
        time.sleep(max(0.0, next_at - time.monotonic()))


# -- the measurement ----------------------------------------------------------------------


async def measure(n: int, ports: list[int], cookie: str, daphnes: list[int],
                  r: redis.Redis, args: argparse.Namespace) -> dict[str, Any]:
    viewers = [Viewer(ports[i % len(ports)], f"/ws/queues/{QUEUE}/", cookie) for i in range(n)]
    for i in range(0, n, 10):  # a few at a time, as pages would open
        await asyncio.gather(*(v.open() for v in viewers[i:i + 10]))
    await asyncio.sleep(args.settle)
    redis_port = r.connection_pool.connection_kwargs["port"]
    ticks0 = sum(cpu_ticks(pid) for pid in daphnes)
    commands0 = int(r.info("stats")["total_commands_processed"])
    own0 = commands_of(r, redis_ports(daphnes, redis_port))
    start = time.monotonic()
    await asyncio.sleep(args.window)
    end = time.monotonic()
    ticks1 = sum(cpu_ticks(pid) for pid in daphnes)
    commands1 = int(r.info("stats")["total_commands_processed"])
    # Daphne's clients at the end (those opened in the window counted from 0)
    own1 = commands_of(r, redis_ports(daphnes, redis_port))
    rates = [v.pushes(start, end) / (end - start) for v in viewers]
    errors = [v.error for v in viewers if v.error]
    await asyncio.gather(*(v.close() for v in viewers))
    await asyncio.sleep(1.0)  # the sockets' teardown outside the next window
    seconds = end - start
    return {"viewers": n, "cpu_pct": 100.0 * (ticks1 - ticks0) / CLK_TCK / seconds,
            "commands_s": (commands1 - commands0 - 3) / seconds,  # less our INFO, CLIENT LIST
            "daphne_commands_s": (own1 - own0) / seconds,
            "push_min": min(rates) if rates else 0.0,
            "push_median": statistics.median(rates) if rates else 0.0,
            "errors": errors[:3], "n_errors": len(errors)}


def report(results: list[dict[str, Any]], label: str) -> str:
    base = results[0]
    rows = []
    for res in results:
        rows.append([str(res["viewers"]), f"{res['cpu_pct']:.1f}",
                     f"{res['commands_s']:,.0f}",
                     f"{res['commands_s'] - base['commands_s']:,.0f}",
                     f"{res['daphne_commands_s']:,.0f}",
                     f"{res['push_min']:.2f}" if res["viewers"] else "-",
                     f"{res['push_median']:.2f}" if res["viewers"] else "-",
                     str(res["n_errors"])])
    text = render_table(["viewers", "Daphne CPU %", "Redis cmd/s", "cmd/s over 0", "Daphne's cmd/s",
                         "push/s min", "push/s median", "errors"], rows)
    viewed = [res for res in results if res["viewers"]]
    if len(viewed) >= 2:
        lo, hi = viewed[0], viewed[-1]
        extra = hi["viewers"] - lo["viewers"]
        own = (hi["daphne_commands_s"] - lo["daphne_commands_s"]) / extra
        text += (f"\nper extra viewer ({lo['viewers']} -> {hi['viewers']}): "
                 f"{(hi['cpu_pct'] - lo['cpu_pct']) / extra:.2f} % of a core, "
                 f"{(hi['commands_s'] - lo['commands_s']) / extra:,.1f} Redis commands/s "
                 f"(all clients), {own:,.1f} (Daphne's own)\n")
    return f"{label}\n{text}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", default="1,10,50")
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--daphnes", type=int, default=1)
    parser.add_argument("--layer", choices=("memory", "redis"), default="memory")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--out", default="")
    parser.add_argument("--produce", default="", help=argparse.SUPPRESS)  # the producer child
    args = parser.parse_args()
    if args.produce:
        produce(args.produce, args.rate)
        return 0
    counts = [int(n) for n in args.viewers.split(",")]
    bound(args.timeout)
    work = Path(tempfile.mkdtemp(prefix="qc-viewers-bench-"))
    server = EmbeddedRedis(work / "redis", appendonly=False)
    try:
        url = server.start()
        r = redis.Redis.from_url(url, decode_responses=True)
        env = {**os.environ, **ENV, "QUEUECORE_REDIS_URL": url,
               "QUEUECORE_VAR_DIR": str(work / "var")}
        env["DJANGO_SETTINGS_MODULE"] = "viewers_settings"
        env["PYTHONPATH"] = os.pathsep.join([str(BENCH), str(ROOT)])
        if args.layer == "redis":
            env["QUEUECORE_BENCH_LAYER_URL"] = url
        manage(env, "migrate", "--no-input", "--verbosity", "0")
        name, value = manage(env, "shell", "-c", SESSION).split()[-2:]
        cookie = f"{name}={value}"
        from queuecore import Queue

        Queue(QUEUE, url).add_bulk([{"name": "view", "data": {"i": -i}}
                                    for i in range(BACKLOG)])
        spawn([PYTHON, str(BENCH / "qc_worker.py"), "--url", url, "--queue", QUEUE,
               "--concurrency", "50", "--limiter", f"{int(args.rate)}/1000",
               "--max-seconds", str(args.timeout)], env, work / "worker.err")
        spawn([PYTHON, str(Path(__file__).resolve()), "--produce", url, "--rate",
               str(args.rate)], env, work / "producer.err")
        servers = [start_daphne(env, work / f"daphne-{i}.err") for i in range(args.daphnes)]
        ports, pids = [port for _, port in servers], [proc.pid for proc, _ in servers]
        time.sleep(2.0)  # the worker up to speed
        done0 = int(r.zcard(f"bull:{QUEUE}:completed"))
        t0 = time.monotonic()
        results = []
        for n in [0, *counts]:
            say(f"{n} viewers ...")
            results.append(asyncio.run(measure(n, ports, cookie, pids, r, args)))
        jobs_s = (int(r.zcard(f"bull:{QUEUE}:completed")) - done0) / (time.monotonic() - t0)
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=False).stdout.strip()
        label = (f"bench/viewers.py at {commit}: worker {jobs_s:,.0f} jobs/s, "
                 f"{args.daphnes} Daphne ({args.layer} layer), window {args.window:.0f} s, "
                 f"queue page /ws/queues/{QUEUE}/")
        print(report(results, label))
        for res in results:
            if res["errors"]:
                print(f"{res['viewers']} viewers, errors: {res['errors']}")
        if args.out:
            Path(args.out).write_text(json.dumps({"label": label, "results": results}, indent=1))
        return 0
    finally:
        stop_processes()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
