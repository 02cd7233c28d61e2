"""The dashboard live, in a real browser: a real queuecore Worker runs jobs in a
thread while pages stay open, and the htmx websocket pushes must show it
(counts, progress bars, states) without any reload. Also the Retry and Clean
buttons end to end, and job names and data that try to run script.

Every wait is bounded (LIVE_MS for the browser, WAIT_S for Redis), and every
worker is closed before its test ends (``running``)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Locator, Page, expect

from queuecore import Job, Queue, Worker
from tests.helpers import wait_for

from .support import DASHBOARD_PATH

pytestmark = pytest.mark.browser

LIVE_MS = 10_000  # longest wait for anything the browser should show
WAIT_S = 10.0  # longest wait for a state in Redis
CLOSE_S = 10.0  # longest wait for a worker to stop
STEP_S = 0.8  # the progress steps of the slow processor: 20, 40, 60, 80, 100
INTERMEDIATE = re.compile(r"^[2468]0$")  # a progress value between the ends
NONZERO = re.compile(r"^(?:[1-9][0-9]?|100)$")

# Counts the websocket's life in the page: set before the page's own scripts.
LIVE_PROBE = """
window.__live = {open: 0, messages: 0};
document.addEventListener("htmx:wsOpen", () => { window.__live.open += 1; });
document.addEventListener("htmx:wsAfterMessage", () => { window.__live.messages += 1; });
"""


# -- helpers -----------------------------------------------------------------------


@contextmanager
def running(worker: Worker) -> Iterator[Worker]:
    """The worker runs in a thread of its own for the body of the with; it is
    closed after, and the test fails if it has not stopped in CLOSE_S.

    Not ``worker.start()``: while Playwright's sync API is on, the main thread
    counts as having a running event loop, and start() would put the worker on
    Playwright's loop, which only turns while a Playwright call waits."""
    thread = threading.Thread(target=worker.run, name=f"worker-{worker.queue.name}",
                              daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.close(timeout=CLOSE_S)
        thread.join(1.0)
        assert not thread.is_alive(), f"worker of {worker.queue.name} did not stop"


def state_of(queue: Queue, job_id: str) -> str | None:
    job = queue.get_job(job_id)
    return job.get_state() if job is not None else None


def queue_path(queue: Queue, state: str | None = None) -> str:
    return f"{DASHBOARD_PATH}{queue.name}/" + (f"?state={state}" if state else "")


def job_path(queue: Queue, job_id: str) -> str:
    return f"{DASHBOARD_PATH}{queue.name}/jobs/{job_id}/"


def probe(page: Page) -> Page:
    """Count the websocket's messages in every page of this context from now on."""
    page.context.add_init_script(LIVE_PROBE)
    return page


def wait_live(page: Page) -> None:
    """Wait for the first push: the consumer has then taken its streams' ends,
    so whatever happens after this shows up on the page."""
    page.wait_for_function("() => window.__live && window.__live.messages > 0",
                           timeout=LIVE_MS)


def mark(page: Page) -> None:
    """A flag on the window: a reload or a navigation would lose it."""
    page.evaluate("() => { window.__stayed = true; }")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("() => window.__stayed === true"), f"{page.url} was reloaded"


def tab_count(page: Page, state: str) -> Locator:
    return page.locator(f"#tabs a[data-state={state}] .count")


async def slow_steps(job: Job) -> str:
    """Progress in five steps, STEP_S apart."""
    for pct in (20, 40, 60, 80, 100):
        await asyncio.sleep(STEP_S)
        await job.aupdate_progress(pct)
    return f"done {job.id}"


async def refuse(job: Job) -> None:
    raise RuntimeError(f"card declined for order {job.data['order']}")


async def quick(job: Job) -> int:
    return job.data["n"] * 2


# -- tests -------------------------------------------------------------------------


def test_counts_and_progress_update_live(logged_in_page: Page, queue: Queue, redis_url: str,
                                         screenshot_dir: Path) -> None:
    page = probe(logged_in_page)
    jobs = [queue.add("resize", {"image": f"photo-{n}.jpg"}) for n in range(3)]
    watched = jobs[0]

    page.goto(queue_path(queue))
    expect(page.locator("h1")).to_have_text(queue.name)
    expect(tab_count(page, "waiting")).to_have_text("3")
    expect(tab_count(page, "completed")).to_have_text("0")
    row_bar = page.locator(f"#job-{watched.id} progress")
    expect(row_bar).to_have_attribute("value", "0")
    wait_live(page)
    mark(page)

    job_page = page.context.new_page()
    job_page.goto(job_path(queue, watched.id))
    expect(job_page.locator("#job-state")).to_have_text("waiting")
    bar = job_page.locator("#job-progress")
    expect(bar).to_have_attribute("value", "0")
    wait_live(job_page)
    mark(job_page)

    with running(Worker(queue.name, slow_steps, connection=redis_url, concurrency=3)):
        # the job page follows its job: active, then a bar part way, then done
        expect(job_page.locator("#job-state")).to_have_text("active", timeout=LIVE_MS)
        expect(bar).to_have_attribute("value", INTERMEDIATE, timeout=LIVE_MS)
        job_page.screenshot(path=str(screenshot_dir / "job.png"), full_page=True)
        # the queue page meanwhile: all three running, the row's bar moving
        expect(tab_count(page, "active")).to_have_text("3", timeout=LIVE_MS)
        expect(tab_count(page, "waiting")).to_have_text("0", timeout=LIVE_MS)
        expect(row_bar).to_have_attribute("value", NONZERO, timeout=LIVE_MS)
        page.screenshot(path=str(screenshot_dir / "queue.png"), full_page=True)

        expect(tab_count(page, "completed")).to_have_text("3", timeout=LIVE_MS)
        expect(tab_count(page, "active")).to_have_text("0", timeout=LIVE_MS)
        expect(row_bar).to_have_attribute("value", "100", timeout=LIVE_MS)
        expect(job_page.locator("#job-state")).to_have_text("completed", timeout=LIVE_MS)
        expect(bar).to_have_attribute("value", "100", timeout=LIVE_MS)
        expect(job_page.locator("#job-body")).to_contain_text(f"done {watched.id}")

    assert_not_reloaded(page)
    assert_not_reloaded(job_page)
    assert queue.get_job_counts("completed")["completed"] == 3

    # the overview lists the queue (found by SCAN in the background, and
    # remembered at once when its own page was opened, as here)
    job_page.goto(DASHBOARD_PATH)
    row = job_page.locator(f"#queue-{queue.name}")
    expect(row.locator("td[data-state=completed]")).to_have_text("3", timeout=LIVE_MS)
    job_page.screenshot(path=str(screenshot_dir / "overview.png"), full_page=True)


def test_retry_failed_job(logged_in_page: Page, queue: Queue, redis_url: str) -> None:
    page = probe(logged_in_page)
    job = queue.add("charge", {"order": 7}, attempts=1)
    with running(Worker(queue.name, refuse, connection=redis_url)):
        wait_for(lambda: state_of(queue, job.id) == "failed", WAIT_S,
                 what=f"job {job.id} to fail")

    page.goto(job_path(queue, job.id))
    state = page.locator("#job-state")
    expect(state).to_have_text("failed")
    expect(page.locator("pre.error")).to_contain_text("card declined for order 7")
    retry = page.locator(".toolbar").get_by_role("button", name="Retry", exact=True)
    with page.expect_navigation(wait_until="load"):
        retry.click()

    # after the POST and its redirect: back on the job page, waiting (no worker now)
    assert page.url.endswith(job_path(queue, job.id)), page.url
    expect(page.locator(".messages li.success")).to_have_text(
        f"Job {job.id} moved from failed to waiting.")
    expect(state).to_have_text("waiting")
    expect(retry).to_have_count(0)
    assert state_of(queue, job.id) == "waiting"
    wait_live(page)
    mark(page)

    # a worker that succeeds takes it: the page follows without a reload
    with running(Worker(queue.name, slow_steps, connection=redis_url)):
        expect(state).to_have_text("active", timeout=LIVE_MS)
        expect(page.locator("#job-progress")).to_have_attribute("value", INTERMEDIATE,
                                                                timeout=LIVE_MS)
        expect(state).to_have_text("completed", timeout=LIVE_MS)
    expect(page.locator("#job-body")).to_contain_text(f"done {job.id}")
    assert_not_reloaded(page)
    assert state_of(queue, job.id) == "completed"


def test_clean_completed_jobs(logged_in_page: Page, queue: Queue, redis_url: str) -> None:
    page = probe(logged_in_page)
    for n in range(4):
        queue.add("report", {"n": n})
    with running(Worker(queue.name, quick, connection=redis_url, concurrency=4)):
        wait_for(lambda: queue.get_job_counts("completed")["completed"] == 4, WAIT_S,
                 what="four completed jobs")

    # a second tab on the same queue, to see the clean arrive live
    watcher = page.context.new_page()
    watcher.goto(queue_path(queue))
    expect(tab_count(watcher, "completed")).to_have_text("4")
    wait_live(watcher)
    mark(watcher)

    page.goto(queue_path(queue, "completed"))
    expect(tab_count(page, "completed")).to_have_text("4")
    expect(page.locator("#job-list tbody tr")).to_have_count(4)

    dialogs: list[str] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    form = page.locator("form.clean")
    form.locator("select[name=state]").select_option("completed")
    form.locator("input[name=grace]").fill("0")
    with page.expect_navigation(wait_until="load"):
        form.get_by_role("button", name="Clean").click()

    assert dialogs == ["Remove these jobs for good?"]
    # the action brings the operator back to the tab it was taken from
    assert page.url.endswith(queue_path(queue) + "?state=completed"), page.url
    expect(page.locator(".messages li.success")).to_have_text(
        f"Removed 4 completed job(s) of {queue.name}.")
    expect(tab_count(page, "completed")).to_have_text("0")
    expect(page.locator("#job-list tbody tr[id^=job-]")).to_have_count(0)
    expect(tab_count(watcher, "completed")).to_have_text("0", timeout=LIVE_MS)
    assert_not_reloaded(watcher)
    assert queue.get_job_counts("completed")["completed"] == 0


def test_job_name_and_data_are_shown_not_run(logged_in_page: Page, queue: Queue) -> None:
    page = probe(logged_in_page)
    name = '<img src=x onerror="window.__pwned=1">'
    script = "<script>window.__pwned = true</script>"
    job = queue.add(name, {"note": script})

    def assert_inert(where: Page) -> None:
        assert where.evaluate("() => typeof window.__pwned") == "undefined", where.url
        expect(where.locator("img[src=x]")).to_have_count(0)

    page.goto(job_path(queue, job.id))
    expect(page.locator("h1 small")).to_have_text(name)
    expect(page.locator("#job-data")).to_contain_text(f'"note": "{script}"')
    wait_live(page)  # the pushed partial must be as inert as the first render
    job.update_progress(30)  # an event: one more push
    expect(page.locator("#job-progress")).to_have_attribute("value", "30", timeout=LIVE_MS)
    expect(page.locator("h1 small")).to_have_text(name)
    expect(page.locator("#job-data")).to_contain_text(f'"note": "{script}"')
    assert_inert(page)

    page.goto(queue_path(queue, "waiting"))
    cell = page.locator(f"#job-{job.id} td").nth(1)
    expect(cell).to_have_text(name)
    wait_live(page)
    job.update_progress(60)
    expect(page.locator(f"#job-{job.id} progress")).to_have_attribute("value", "60",
                                                                    timeout=LIVE_MS)
    expect(cell).to_have_text(name)
    assert_inert(page)
