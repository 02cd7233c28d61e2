"""``manage.py demo``: the dashboard on Daphne, with workers and live traffic
on a private Redis, modelled on the BullMQ guide's examples."""

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

from queuecore import Job, Queue, UnrecoverableError, Worker
from queuecore.embedded import ensure_redis_url

DEMO_USER, DEMO_PASSWORD = "demo", "demo-pass"


async def send_email(job: Job) -> dict[str, Any]:
    """Emails with progress, and an SMTP server that sometimes says later."""
    for step in (25, 50, 75, 100):
        await asyncio.sleep(random.uniform(0.1, 0.4))
        await job.aupdate_progress(step)
    if random.random() < 0.15:
        raise ConnectionError("SMTP server said 421: try again later")
    await job.alog(f"sent to {job.data['to']}")
    return {"delivered": True, "to": job.data["to"]}


async def process_image(job: Job) -> dict[str, Any]:
    """An image pipeline that reports each step as a progress message."""
    sizes = []
    for step, size in enumerate((1600, 800, 320), start=1):
        await asyncio.sleep(random.uniform(0.2, 0.6))
        await job.aupdate_progress({"pct": step * 33, "step": f"resized to {size}px"})
        await job.alog(f"resized {job.data['image']} to {size}px")
        sizes.append(size)
    return {"thumbnails": sizes}


async def call_flaky_api(job: Job) -> dict[str, Any]:
    """A flaky API: most calls fail once or twice, retried with exponential backoff."""
    await asyncio.sleep(random.uniform(0.05, 0.2))
    if job.data.get("bad_request"):
        raise UnrecoverableError("400 Bad Request: the order id does not exist")
    if random.random() < 0.6:
        raise TimeoutError(f"upstream timed out after 5000 ms (attempt {job.attempts_made + 1})")
    return {"status": 200, "order": job.data["order"]}


async def send_alert(job: Job) -> str:
    await asyncio.sleep(random.uniform(0.05, 0.3))
    return f"paged on-call for {job.data['service']}"


async def build_report(job: Job) -> dict[str, Any]:
    await asyncio.sleep(random.uniform(0.5, 1.5))
    return {"rows": random.randint(100, 5000), "report": job.data["report"]}


WORKERS = {  # queue: (processor, concurrency)
    "emails": (send_email, 5),
    "images": (process_image, 2),
    "flaky-api": (call_flaky_api, 3),
    "alerts": (send_alert, 1),
    "reports": (build_report, 1),
}


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
        self.stdout.write(f"Redis: {url}")
        if server is not None:
            self.stdout.write(f"Dashboard: http://127.0.0.1:{port}/admin/queues/  "
                              f"(login {DEMO_USER} / {DEMO_PASSWORD})")
        try:
            asyncio.run(self.run(url, duration, rate))
        finally:
            if server is not None:
                server.terminate()
                try:
                    server.wait(10)
                except subprocess.TimeoutExpired:
                    server.kill()

    def ensure_demo_user(self) -> None:
        users = get_user_model()
        if not users.objects.filter(username=DEMO_USER).exists():
            users.objects.create_superuser(DEMO_USER, "demo@example.com", DEMO_PASSWORD)

    def start_server(self, port: int) -> subprocess.Popen[bytes]:
        daphne = Path(sys.executable).with_name("daphne")
        return subprocess.Popen(
            [str(daphne), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=settings.BASE_DIR, env=dict(os.environ), start_new_session=True)

    async def run(self, url: str, duration: float, rate: float) -> None:
        prefix = settings.QUEUECORE.get("PREFIX", "bull")
        say = self.stdout.write
        queues = {name: Queue(name, connection=url, prefix=prefix) for name in WORKERS}
        workers = []
        for name, (processor, concurrency) in WORKERS.items():
            worker = Worker(name, processor, connection=url, prefix=prefix,
                            concurrency=concurrency)
            worker.on("completed", lambda job, result, _n=name: say(
                f"  {_n:<10} completed #{job.id}"))
            worker.on("failed", lambda job, err, _n=name: say(
                f"  {_n:<10} failed    #{job.id}: {err} (attempt {job.attempts_made}"
                f" of {job.attempts})"))
            workers.append(worker)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        tasks = [asyncio.ensure_future(w.arun()) for w in workers]
        say("Workers and traffic running; Ctrl-C stops them.")
        deadline = loop.time() + duration if duration else None
        n = 0
        while not stop.is_set() and (deadline is None or loop.time() < deadline):
            n += 1
            await self.add_traffic(queues, n)
            try:
                await asyncio.wait_for(stop.wait(), 1 / rate)
            except TimeoutError:
                pass
        say("Stopping: waiting for active jobs to finish...")
        for worker in workers:
            await worker.aclose()
        await asyncio.gather(*tasks)
        for name, queue in queues.items():
            say(f"{name:<10} {await queue.aget_job_counts()}")
            await queue.aclose()

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
        if n % 8 == 0:
            await queues["reports"].aadd("daily-report", {"report": f"sales-{n}"},
                                         delay=random.randint(5_000, 60_000))
