"""``manage.py demo``: the dashboard on Daphne, with workers (``manage.py
runworker``) and live traffic on a private Redis, modelled on the BullMQ
guide's examples (processors in ``dashboard/demo_jobs.py``)."""

from __future__ import annotations

import asyncio
import errno
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from dashboard.demo_jobs import QUEUES, SCHEDULERS, order_flow
from queuecore import FlowProducer, Queue
from queuecore.embedded import ensure_redis_url

DEMO_USER, DEMO_PASSWORD = "demo", "demo-pass"
SERVER_STARTUP = 30  # s Daphne gets to listen
REMIND_EVERY = 60  # s between reprints of the URL, login and Redis line


def here(path: Path) -> str:
    """``path`` relative to the current directory when it is under it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def bind_error(port: int) -> OSError | None:
    """Why Daphne could not listen on ``port`` now, or None."""
    with socket.socket() as probe:
        # as Daphne binds: a port left in TIME_WAIT by a previous run is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc
    return None


def check_port_free(port: int) -> None:
    if not 0 < port < 65536:
        raise CommandError(f"--port takes a port number from 1 to 65535, not {port}")
    error = bind_error(port)
    if error is None:
        return
    if error.errno != errno.EADDRINUSE:
        raise CommandError(f"cannot listen on port {port}: {error.strerror}")
    free = next((p for p in range(port + 1, min(port + 50, 65536)) if bind_error(p) is None),
                port + 1)
    raise CommandError(f"port {port} is in use; run `make demo PORT={free}` "
                       f"(or manage.py demo --port {free})")


class Command(BaseCommand):
    help = ("Run the dashboard (Daphne) with demo workers and traffic on the embedded "
            "Redis; prints the URL and the login. Needs the demo's settings: make demo, "
            "or --settings=config.demo_settings.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--duration", type=float, default=0,
                            help="stop after this many seconds (0: until Ctrl-C)")
        parser.add_argument("--rate", type=float, default=4, help="jobs added per second")
        parser.add_argument("--no-server", action="store_true",
                            help="workers and traffic only, without Daphne")
        parser.add_argument("--verbose", dest="verbosity", action="store_const", const=2,
                            help="the workers log every job (same as -v 2); by default "
                                 "they log a summary line every few seconds")

    def handle(self, *args: Any, port: int, duration: float, rate: float, no_server: bool,
               verbosity: int, **options: Any) -> None:
        if not getattr(settings, "DEMO", False):
            raise CommandError(
                "manage.py demo runs with the demo's own settings, which keep its login in a "
                "database of its own: run `make demo`, or add --settings=config.demo_settings")
        if not no_server:
            check_port_free(port)  # before anything starts
        url = settings.QUEUECORE.get("REDIS_URL") or ensure_redis_url(
            Path(settings.VAR_DIR) / "redis")
        os.environ["QUEUECORE_REDIS_URL"] = url
        os.environ["DJANGO_SETTINGS_MODULE"] = settings.SETTINGS_MODULE  # for the children
        call_command("migrate", verbosity=0)
        self.ensure_demo_user()
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        try:
            if not no_server:
                self.children.append(("the dashboard server (Daphne)", self.start_server(port)))
                self.wait_until_listening(port, self.children[-1][1])
            self.children.append(("the workers (manage.py runworker)",
                                  self.start_workers(verbosity)))
            self.banner = self.describe(url, None if no_server else port)
            self.stdout.write(self.banner)
            asyncio.run(self.run(url, duration, rate))
        finally:
            self.stop_children()

    def describe(self, url: str, port: int | None) -> str:
        """What the terminal must keep showing: where to look, and how to reach
        the demo's queues from a second terminal."""
        prefix = settings.QUEUECORE.get("PREFIX", "bull")
        env = [f"QUEUECORE_REDIS_URL={url}"] + ([] if prefix == "bull"
                                                else [f"QUEUECORE_PREFIX={prefix}"])
        env.append(f"DJANGO_SETTINGS_MODULE={settings.SETTINGS_MODULE}")
        lines = [f"Redis: {url}"]
        if port is not None:
            lines.append(f"Dashboard: http://127.0.0.1:{port}/admin/queues/  "
                         f"(login {DEMO_USER} / {DEMO_PASSWORD})")
        command = [here(Path(sys.executable)), here(Path(settings.BASE_DIR) / "manage.py"),
                   "queues", "list"]
        lines.append(f"Second terminal: {shlex.join(env + command)}")
        return "\n".join(lines)

    def stop_children(self) -> None:
        self.stdout.write("Stopping: the workers finish their active jobs...")
        for _, proc in self.children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in self.children:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()

    def ensure_demo_user(self) -> None:
        users = get_user_model()
        if not users.objects.filter(username=DEMO_USER).exists():
            users.objects.create_superuser(DEMO_USER, "demo@example.com", DEMO_PASSWORD)

    def start_workers(self, verbosity: int) -> subprocess.Popen[bytes]:
        """``manage.py runworker`` for the demo queues, as a process of its own."""
        return subprocess.Popen(
            [sys.executable, "manage.py", "runworker", "--grace", "20", "-v", str(verbosity),
             *QUEUES], cwd=settings.BASE_DIR, env=dict(os.environ), start_new_session=True)

    def start_server(self, port: int) -> subprocess.Popen[bytes]:
        daphne = Path(sys.executable).with_name("daphne")
        return subprocess.Popen(
            [str(daphne), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=settings.BASE_DIR, env=dict(os.environ), start_new_session=True)

    def wait_until_listening(self, port: int, server: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + SERVER_STARTUP
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(f"the dashboard server (Daphne) exited with "
                                   f"{server.returncode} before listening on port {port}")
            with socket.socket() as probe:
                probe.settimeout(0.5)
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise CommandError(f"the dashboard server (Daphne) did not listen on port {port} "
                           f"within {SERVER_STARTUP} s")

    async def run(self, url: str, duration: float, rate: float) -> None:
        """The traffic generator, until Ctrl-C or ``duration``."""
        prefix = settings.QUEUECORE.get("PREFIX", "bull")
        queues = {name: Queue(name, connection=url, prefix=prefix) for name in QUEUES}
        self.flows = FlowProducer(url, prefix=prefix)
        for queue_name, scheduler_id, repeat, template in SCHEDULERS:
            await queues[queue_name].aupsert_job_scheduler(scheduler_id, repeat, template)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        self.stdout.write("Workers and traffic running; Ctrl-C stops them.")
        deadline = loop.time() + duration if duration else None
        # again once the children's start-up lines are out, then now and then,
        # so the URL does not scroll away
        remind = loop.time() + 3
        n = 0
        died: list[tuple[str, int | None]] = []
        while not stop.is_set() and (deadline is None or loop.time() < deadline):
            died = [(what, proc.returncode) for what, proc in self.children
                    if proc.poll() is not None]
            if died:
                break
            n += 1
            await self.add_traffic(queues, n)
            if loop.time() >= remind:
                self.stdout.write(self.banner)
                remind = loop.time() + REMIND_EVERY
            try:
                await asyncio.wait_for(stop.wait(), 1 / rate)
            except TimeoutError:
                pass
        for name, queue in queues.items():
            self.stdout.write(f"{name:<13} {await queue.aget_job_counts()}")
            await queue.aclose()
        await self.flows.aclose()
        if died:
            raise CommandError(f"{died[0][0]} exited with {died[0][1]}; the demo stops")

    async def add_traffic(self, queues: dict[str, Queue], n: int) -> None:
        await queues["emails"].aadd("welcome-email", {"to": f"user{n}@example.com"},
                                    attempts=3, backoff={"type": "fixed", "delay": 2000},
                                    remove_on_complete={"count": 500})
        if n % 3 == 0:
            await queues["images"].aadd("thumbnails", {"image": f"photo-{n}.jpg"})
        if n % 2 == 0:
            await queues["flaky-api"].aadd(
                "sync-order", {"order": 1000 + n, "bad_request": n % 17 == 0},
                attempts=4, backoff={"type": "exponential", "delay": 500})
        if n % 5 == 0:
            await queues["alerts"].aadd("page", {"service": random.choice(
                ("billing", "search", "checkout"))}, priority=random.choice((1, 5, 10)))
        if n % 6 == 0:
            await self.flows.aadd(order_flow(n))
        # bursts of 8 (4 a second at the default rate) for an API that takes 5 a
        # second: the limiter spreads each burst over two windows
        if n % 8 == 0:
            await queues["partner-api"].aadd_bulk([
                {"name": "sync-stock", "data": {"sku": f"SKU-{n}-{i}"}} for i in range(8)])
        if n % 8 == 0:
            await queues["reports"].aadd("daily-report", {"report": f"sales-{n}"},
                                         delay=random.randint(5_000, 60_000))
