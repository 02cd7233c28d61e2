"""``manage.py demo``: a worker and a producer on a private Redis, printing what happens."""

from __future__ import annotations

import asyncio
import random
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from queuecore import Job, Queue, Worker
from queuecore.embedded import ensure_redis_url


async def send_email(job: Job) -> dict[str, Any]:
    """A pretend email sender: progress in steps, and a flaky SMTP server."""
    for step in (25, 50, 75, 100):
        await asyncio.sleep(random.uniform(0.05, 0.2))
        await job.aupdate_progress(step)
    if random.random() < 0.2:
        raise ConnectionError("SMTP server said 421: try again later")
    await job.alog(f"sent to {job.data['to']}")
    return {"delivered": True, "to": job.data["to"]}


class Command(BaseCommand):
    help = "Run a demo worker and producer on the embedded Redis and print their events."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--duration", type=float, default=0,
                            help="stop after this many seconds (0: until Ctrl-C)")
        parser.add_argument("--rate", type=float, default=5, help="jobs added per second")

    def handle(self, *args: Any, duration: float, rate: float, **options: Any) -> None:
        url = settings.QUEUECORE.get("REDIS_URL") or ensure_redis_url(
            settings.VAR_DIR / "redis")
        self.stdout.write(f"Redis: {url}")
        asyncio.run(self.run(url, duration, rate))

    async def run(self, url: str, duration: float, rate: float) -> None:
        prefix = settings.QUEUECORE.get("PREFIX", "bull")
        queue = Queue("emails", connection=url, prefix=prefix,
                      default_job_options={"attempts": 3,
                                           "backoff": {"type": "exponential", "delay": 500},
                                           "remove_on_complete": {"count": 1000}})
        worker = Worker("emails", send_email, connection=url, prefix=prefix, concurrency=4)
        say = self.stdout.write
        worker.on("active", lambda job, _prev: say(
            f"  active     #{job.id} to {job.data.get('to')} (attempt {job.attempts_made + 1})"))
        worker.on("completed", lambda job, result: say(f"  completed  #{job.id} {result}"))
        worker.on("failed", lambda job, err: say(
            f"  failed     #{job.id}: {err} (attempt {job.attempts_made} of {job.attempts}"
            f"{', will retry' if job.attempts_made < job.attempts else ''})"))
        worker.on("error", lambda exc: say(f"  error      {exc}"))
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        worker_task = asyncio.ensure_future(worker.arun())
        say(f"Demo running on queue {queue.keys.qualified}; Ctrl-C stops it.")
        n = 0
        deadline = loop.time() + duration if duration else None
        while not stop.is_set() and (deadline is None or loop.time() < deadline):
            n += 1
            options: dict[str, Any] = {}
            if n % 7 == 0:
                options["delay"] = 2000
            if n % 5 == 0:
                options["priority"] = 1
            job = await queue.aadd("welcome-email", {"to": f"user{n}@example.com"}, **options)
            say(f"added      #{job.id}" + (f" {options}" if options else ""))
            try:
                await asyncio.wait_for(stop.wait(), 1 / rate)
            except TimeoutError:
                pass
        say("Stopping: waiting for active jobs to finish...")
        await worker.aclose()
        await worker_task
        counts = await queue.aget_job_counts()
        say(f"Job counts: {counts}")
        await queue.aclose()
