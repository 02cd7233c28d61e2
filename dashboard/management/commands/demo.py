"""``manage.py demo``: the dashboard on Daphne, with workers (``manage.py
runworker``) and live traffic on a private Redis, modelled on the BullMQ
guide's examples (processors in ``dashboard/demo_jobs.py``)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from dashboard.demo_jobs import QUEUES, SCHEDULERS, order_flow
from queuecore import FlowProducer, Queue
from queuecore.embedded import ensure_redis_url

DEMO_USER, DEMO_PASSWORD = "demo", "demo-pass"


class Command(BaseCommand):
    help = ("Run the dashboard (Daphne) with demo workers and traffic on the embedded "
            "Redis; prints the URL and the login.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--duration", type=float, default=0,
                            help="stop after this many seconds (0: until Ctrl-C)")
        parser.add_argument("--rate", type=float, default=4, help="jobs added per second")
        parser.add_argument("--no-server", action="store_true",
                            help="workers and traffic only, without Daphne")

    def handle(self, *args: Any, port: int, duration: float, rate: float, no_server: bool,
               **options: Any) -> None:
        url = settings.QUEUECORE.get("REDIS_URL") or ensure_redis_url(
            Path(settings.VAR_DIR) / "redis")
        os.environ["QUEUECORE_REDIS_URL"] = url
        call_command("migrate", verbosity=0)
        self.ensure_demo_user()
        server = None if no_server else self.start_server(port)
        workers = self.start_workers()
        self.stdout.write(f"Redis: {url}")
        if server is not None:
            self.stdout.write(f"Dashboard: http://127.0.0.1:{port}/admin/queues/  "
                              f"(login {DEMO_USER} / {DEMO_PASSWORD})")
        try:
            asyncio.run(self.run(url, duration, rate))
        finally:
            self.stdout.write("Stopping: the workers finish their active jobs...")
            for proc in (workers, server):
                if proc is not None:
                    proc.send_signal(signal.SIGTERM)
            for proc in (workers, server):
                if proc is not None:
                    try:
                        proc.wait(60)
                    except subprocess.TimeoutExpired:
                        proc.kill()

    def ensure_demo_user(self) -> None:
        users = get_user_model()
        if not users.objects.filter(username=DEMO_USER).exists():
            users.objects.create_superuser(DEMO_USER, "demo@example.com", DEMO_PASSWORD)

    def start_workers(self) -> subprocess.Popen[bytes]:
        """``manage.py runworker`` for the demo queues, as a process of its own."""
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.demo_settings"}
        return subprocess.Popen(
            [sys.executable, "manage.py", "runworker", "--grace", "20", *QUEUES],
            cwd=settings.BASE_DIR, env=env, start_new_session=True)

    def start_server(self, port: int) -> subprocess.Popen[bytes]:
        daphne = Path(sys.executable).with_name("daphne")
        return subprocess.Popen(
            [str(daphne), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=settings.BASE_DIR, env=dict(os.environ), start_new_session=True)

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
        n = 0
        while not stop.is_set() and (deadline is None or loop.time() < deadline):
            n += 1
            await self.add_traffic(queues, n)
            try:
                await asyncio.wait_for(stop.wait(), 1 / rate)
            except TimeoutError:
                pass
        for name, queue in queues.items():
            self.stdout.write(f"{name:<13} {await queue.aget_job_counts()}")
            await queue.aclose()
        await self.flows.aclose()

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
