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


async def run_maintenance(job: Job) -> dict[str, Any]:
    """What the cron schedulers fire: a heartbeat, a weekly cleanup."""
    await asyncio.sleep(random.uniform(0.05, 0.2))
    return {"task": job.data["task"], "ok": True}


# The demo's job schedulers: (queue, id, repeat, template), upserted at start.
SCHEDULERS = [
    ("reports", "daily-sales-report", {"pattern": "0 7 * * *", "tz": "Europe/Amsterdam"},
     {"name": "daily-report", "data": {"report": "daily-sales"}}),
    ("maintenance", "weekly-cleanup", {"pattern": "0 3 * * 0", "tz": "America/New_York"},
     {"name": "cleanup", "data": {"task": "purge expired sessions"}}),
    ("maintenance", "heartbeat", {"every": 60_000},
     {"name": "heartbeat", "data": {"task": "heartbeat"}}),
    ("maintenance", "cache-warmup", {"pattern": "*/15 * * * * *"},
     {"name": "warm-cache", "data": {"task": "warm the product cache"}}),
]


# The guide's order flow: an order waits in waiting-children until its payment,
# inventory and notification children are done, then ships with their results.

async def charge_payment(job: Job) -> dict[str, Any]:
    await asyncio.sleep(random.uniform(0.2, 0.8))
    if random.random() < 0.05:
        raise UnrecoverableError(f"card declined for order {job.data['order']}")
    return {"charged": job.data["amount"], "currency": "EUR"}


async def reserve_stock(job: Job) -> dict[str, Any]:
    await asyncio.sleep(random.uniform(0.1, 1.0))
    return {"reserved": job.data["items"], "warehouse": random.choice(("AMS", "BER"))}


async def notify_customer(job: Job) -> dict[str, Any]:
    await asyncio.sleep(random.uniform(0.05, 0.3))
    return {"notified": job.data["email"]}


async def ship_order(job: Job) -> dict[str, Any]:
    results = await job.aget_children_values()
    await job.alog(f"children done: {sorted(results)}")
    return {"shipped": job.data["order"], "steps": len(results)}


async def call_partner_api(job: Job) -> dict[str, Any]:
    """A partner API that allows 5 calls a second: the queue's limiter keeps to it."""
    await asyncio.sleep(random.uniform(0.02, 0.1))
    return {"status": 200, "sku": job.data["sku"]}


def order_flow(n: int) -> dict[str, Any]:
    """One order as a flow over four queues (FlowProducer.add takes it)."""
    order = 5000 + n
    return {"name": "ship-order", "queue_name": "orders", "data": {"order": order},
            "children": [
                {"name": "charge", "queue_name": "payments",
                 "data": {"order": order, "amount": random.randint(10, 400)},
                 "opts": {"fail_parent_on_failure": True}},
                {"name": "reserve", "queue_name": "inventory",
                 "data": {"order": order, "items": random.randint(1, 5)}},
                {"name": "confirmation-email", "queue_name": "notifications",
                 "data": {"order": order, "email": f"buyer{n}@example.com"},
                 "opts": {"ignore_dependency_on_failure": True}},
            ]}


# queue: (processor, worker options), for config/demo_settings.py
QUEUES: dict[str, tuple[str, dict[str, Any]]] = {
    "emails": ("dashboard.demo_jobs.send_email", {"concurrency": 5}),
    "images": ("dashboard.demo_jobs.process_image", {"concurrency": 2}),
    "flaky-api": ("dashboard.demo_jobs.call_flaky_api", {"concurrency": 3}),
    "alerts": ("dashboard.demo_jobs.send_alert", {"concurrency": 1}),
    "reports": ("dashboard.demo_jobs.build_report", {"concurrency": 1}),
    "maintenance": ("dashboard.demo_jobs.run_maintenance", {"concurrency": 1}),
    "orders": ("dashboard.demo_jobs.ship_order", {"concurrency": 2}),
    "payments": ("dashboard.demo_jobs.charge_payment", {"concurrency": 2}),
    "inventory": ("dashboard.demo_jobs.reserve_stock", {"concurrency": 2}),
    "notifications": ("dashboard.demo_jobs.notify_customer", {"concurrency": 2}),
    "partner-api": ("dashboard.demo_jobs.call_partner_api",
                    {"concurrency": 4, "limiter": {"max": 5, "duration": 1000}}),
}
