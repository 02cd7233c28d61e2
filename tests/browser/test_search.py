"""Search in a real browser: type a query, watch the matches and the
progress line arrive over the search socket, stop a search, search by id.

To have a search still running when Stop is clicked, whatever the machine's
speed, the test pauses Redis' writes (CLIENT PAUSE ... WRITE blocks every
script call, and the search's chunks are script calls) while it clicks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Page, expect

from queuecore import Queue

from .support import DASHBOARD_PATH

pytestmark = pytest.mark.browser

LIVE_MS = 10_000
PAUSE_MS = 3_000
LIVE_PROBE = """
window.__searchMessages = 0;
document.addEventListener("htmx:wsAfterMessage", (e) => {
  if (e.target.closest && e.target.closest("#search")) window.__searchMessages += 1;
});
"""


def test_search_streams_results_and_stops(logged_in_page: Page, queue: Queue,
                                          redis_url: str, screenshot_dir: Path) -> None:
    page = logged_in_page
    page.context.add_init_script(LIVE_PROBE)
    queue.add_bulk([{"name": "invoice", "data": {"customer": {"id": i % 500}, "n": i}}
                    for i in range(5000)])
    queue.add("refund", {"customer": {"id": 42}, "note": "<b>not bold</b>"})
    page.goto(f"{DASHBOARD_PATH}{queue.name}/")
    page.evaluate("() => { window.__stayed = true; }")
    box = page.locator("form.search")

    # key=value over the data: ten invoices and the refund, streamed in
    box.locator("select[name=kind]").select_option("data")
    box.locator("input[name=q]").fill("customer.id=42")
    box.locator("input[name=q]").press("Enter")
    rows = page.locator("#search-rows tr")
    expect(rows).to_have_count(11, timeout=LIVE_MS)
    status = page.locator("#search-progress .search-status")
    expect(status).to_have_text("Done: scanned 5,001 of 5,001 jobs · 11 found.", timeout=LIVE_MS)
    expect(page.locator("#search-progress button")).to_have_count(0)
    assert page.evaluate("() => window.__searchMessages") >= 2  # rows, then the progress
    # the search socket has closed; the page's live socket, and its dot, stay on
    expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"))
    expect(rows.first.locator("td").nth(1)).to_have_text("refund")  # newest first
    expect(rows.first.locator("td.state")).to_have_text("waiting")
    page.screenshot(path=str(screenshot_dir / "search.png"), full_page=True)

    # a search that is still looking when Stop is clicked
    client = redis.Redis.from_url(redis_url)
    try:
        client.execute_command("CLIENT", "PAUSE", PAUSE_MS, "WRITE")
        box.locator("select[name=kind]").select_option("name")
        box.locator("input[name=q]").fill("nothing like this")
        box.locator("button", has_text="Search").click()
        expect(status).to_have_text("Searching all states…")
        expect(rows).to_have_count(0)
        page.locator("#search-progress").get_by_role("button", name="Stop").click()
    finally:
        client.close()
    expect(status).to_have_text("Stopped: scanned 1,000 of 5,001 jobs · 0 found.",
                                timeout=PAUSE_MS + LIVE_MS)
    expect(page.locator("#search-progress button")).to_have_count(0)

    # an id: answered at once, with the job's state; data stays text
    box.locator("select[name=kind]").select_option("id")
    box.locator("input[name=q]").fill("5001")
    box.locator("input[name=q]").press("Enter")
    expect(status).to_have_text("Found job 5001 (waiting).")
    expect(rows).to_have_count(1)
    box.locator("select[name=kind]").select_option("data")
    box.locator("input[name=q]").fill("<b>not bold</b>")
    box.locator("input[name=q]").press("Enter")
    expect(page.locator("#search h2 small")).to_contain_text("data containing <b>not bold</b>")
    expect(page.locator("#search b")).to_have_count(0)
    expect(rows).to_have_count(1, timeout=LIVE_MS)
    assert page.evaluate("() => window.__stayed === true")  # never reloaded
