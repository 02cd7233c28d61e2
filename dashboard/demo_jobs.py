"""The demo's processors, modelled on the BullMQ guide's examples. The demo runs
them with ``manage.py runworker`` (settings: ``config/demo_settings.py``)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from queuecore import Job, UnrecoverableError


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


# queue: (processor, concurrency), for config/demo_settings.py
QUEUES = {
    "emails": ("dashboard.demo_jobs.send_email", 5),
    "images": ("dashboard.demo_jobs.process_image", 2),
    "flaky-api": ("dashboard.demo_jobs.call_flaky_api", 3),
    "alerts": ("dashboard.demo_jobs.send_alert", 1),
    "reports": ("dashboard.demo_jobs.build_report", 1),
}
