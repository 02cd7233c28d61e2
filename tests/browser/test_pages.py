"""The queue page's charts, the schedulers page and the workers page in a real
browser: the chart's bars appear without a reload as a worker finishes jobs;
the schedulers and workers pages show what runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from queuecore import Job, Queue, Worker
from tests.helpers import wait_for

from .support import DASHBOARD_PATH
from .test_live import assert_not_reloaded, mark, probe, queue_path, running, wait_live

pytestmark = pytest.mark.browser

CHART_MS = 15_000  # the chart is redrawn by the live updates every 10 s


async def quick(job: Job) -> str:
    return "ok"


def test_chart_bars_appear_live(logged_in_page: Page, queue: Queue, redis_url: str,
                                screenshot_dir: Path) -> None:
    page = probe(logged_in_page)
    # an empty queue that exists: as a Node BullMQ Queue writes its meta when made
    # (a queue with no keys at all gets the dashboard's 404)
    queue.connection.execute("HSET", queue.keys["meta"], "opts.maxLenEvents", "10000")
    page.goto(queue_path(queue))
    expect(page.locator("#charts svg.bars")).to_be_visible()
    expect(page.locator("#charts rect.completed")).to_have_count(0)
    wait_live(page)
    mark(page)
    for n in range(6):
        queue.add("quick", {"n": n})
    with running(Worker(queue.name, quick, connection=redis_url,
                        metrics={"max_data_points": 60})):
        wait_for(lambda: queue.get_job_counts("completed")["completed"] == 6)
    expect(page.locator("#charts rect.completed").first).to_be_visible(timeout=CHART_MS)
    expect(page.locator("#charts h2")).to_contain_text("6 completed")
    expect(page.locator("#charts h2")).to_contain_text("from metrics")
    expect(page.locator("#charts table.percentiles")).to_contain_text(re.compile(r"\d+ ms"))
    assert_not_reloaded(page)
    page.screenshot(path=str(screenshot_dir / "charts.png"), full_page=True)


def test_schedulers_and_workers_pages(logged_in_page: Page, queue: Queue, redis_url: str,
                                      screenshot_dir: Path) -> None:
    page = logged_in_page
    queue.upsert_job_scheduler("nightly-report", {"pattern": "0 3 * * *",
                                                  "tz": "Europe/Paris"}, {"name": "report"})
    queue.upsert_job_scheduler("heartbeat", {"every": 60_000}, {"name": "beat"})
    page.goto(queue_path(queue))  # a queue's own page makes it known at once
    page.goto(f"{DASHBOARD_PATH}-/schedulers/")
    row = page.locator(f"tr[id='scheduler-{queue.name}-nightly-report']")
    expect(row).to_contain_text("0 3 * * *")
    expect(row).to_contain_text("Europe/Paris")
    beat = page.locator(f"tr[id='scheduler-{queue.name}-heartbeat']")
    expect(beat).to_contain_text("every 60000 ms")
    page.screenshot(path=str(screenshot_dir / "schedulers.png"), full_page=True)
    # the next run links to the pending iteration's job page
    beat.get_by_role("link").first.click()
    expect(page.locator("h1")).to_contain_text("repeat:heartbeat:")

    with running(Worker(queue.name, quick, connection=redis_url, name="host-a:4242:3",
                        concurrency=3)):
        wait_for(lambda: queue.get_workers())
        page.goto(f"{DASHBOARD_PATH}-/workers/")
        section = page.locator("section.workers", has_text=queue.name)
        expect(section).to_contain_text("host-a")
        expect(section).to_contain_text("4242")
        expect(section).to_contain_text("queuecore")
        page.screenshot(path=str(screenshot_dir / "workers.png"), full_page=True)
