"""A queue another client wrote, as an operator sees it in a real browser: a
name with '/', ids with '/' and none at all, bytes that are not UTF-8 and a
progress no bar can show. Every page renders, odd values are marked, links
lead where they say, an action works, and missing things get the dashboard's
own 404 page."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Page, expect

from dashboard.url_keys import url_segment

from .support import DASHBOARD_PATH

pytestmark = pytest.mark.browser


@pytest.fixture
def foreign_queue(redis_url: str) -> Iterator[str]:
    """A queue written by hand as a foreign producer could: returns its name."""
    name = f"team/{uuid.uuid4().hex[:6]}/caf\u00e9"
    base = f"bull:{name}:".encode()
    raw = redis.Redis.from_url(redis_url)
    jobs = {
        b"a/b": {b"name": b"import", b"data": b'{"file": "r\xe9sum\xe9.pdf"}', b"opts": b"{}",
                 b"timestamp": b"1700000000000", b"progress": b"1e309"},
        b"": {b"name": b"no-id", b"data": b"{}", b"opts": b"{}", b"timestamp": b"1700000000001"},
        b"7": {b"name": b"plain", b"data": b'{"n": 7}', b"opts": b"{}",
               b"timestamp": b"1700000000002"},
    }
    for job_id, fields in jobs.items():
        raw.hset(base + job_id, mapping=fields)
        raw.lpush(base + b"wait", job_id)
    raw.hset(base + b"meta", mapping={b"opts.maxLenEvents": b"10000"})
    yield name
    raw.delete(*raw.keys(base.replace(b"*", b"\\*") + b"*"))
    raw.close()


def test_a_foreign_queue_renders_links_and_acts(logged_in_page: Page, foreign_queue: str,
                                                screenshot_dir: Path) -> None:
    page = logged_in_page
    page.goto(f"{DASHBOARD_PATH}{url_segment(foreign_queue)}/")  # known at once, not at a SCAN
    expect(page.locator("h1")).to_contain_text(foreign_queue)
    page.goto(DASHBOARD_PATH)
    link = page.get_by_role("link", name=foreign_queue, exact=True)
    expect(link).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "foreign-overview.png"), full_page=True)
    link.click()
    expect(page.locator("h1")).to_contain_text(foreign_queue)
    page.goto(page.url.split("?")[0] + "?state=waiting")
    rows = page.locator("table.jobs tbody tr")
    expect(rows).to_have_count(3)
    expect(page.get_by_text("(empty id)")).to_be_visible()
    expect(page.locator(".badge.malformed")).to_have_count(1)
    page.screenshot(path=str(screenshot_dir / "foreign-queue.png"), full_page=True)

    # the job whose id holds '/' opens on its own page, its foreign bytes marked
    page.get_by_role("link", name="a/b", exact=True).click()
    expect(page.locator("h1")).to_contain_text("a/b")
    marker = page.locator(".undecodable").first
    expect(marker).to_have_text("\\xe9")
    expect(marker).to_have_attribute("title", "byte 0xE9 is not UTF-8")
    expect(page.locator("dl.malformed")).to_contain_text("progress")
    page.screenshot(path=str(screenshot_dir / "foreign-job.png"), full_page=True)

    # and can be acted on: promote is not offered to a waiting job; remove is
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("form[action$='/actions/remove/'] button").click()
    expect(page.locator(".messages")).to_contain_text("a/b removed")
    expect(page.locator("table.jobs tbody tr")).to_have_count(2)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone, as an operator on call
    page.screenshot(path=str(screenshot_dir / "foreign-queue-narrow.png"), full_page=True)


def test_missing_things_get_the_dashboards_404(logged_in_page: Page, foreign_queue: str,
                                               screenshot_dir: Path) -> None:
    page = logged_in_page
    response = page.goto(f"{DASHBOARD_PATH}no-such-queue-{uuid.uuid4().hex[:6]}/")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator("main form, main button")).to_have_count(0)  # no actions
    page.screenshot(path=str(screenshot_dir / "404-queue.png"), full_page=True)

    page.goto(f"{DASHBOARD_PATH}{url_segment(foreign_queue)}/")
    page.locator("input[name='job']").fill("999999")
    page.locator("input[name='job']").press("Enter")
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator("main")).to_contain_text("999999")
    page.screenshot(path=str(screenshot_dir / "404-job.png"), full_page=True)
