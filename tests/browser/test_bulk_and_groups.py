"""Bulk selection and failure groups in a real browser: select two failed
jobs (the selection survives live pushes), retry them, and watch them leave
the failed tab of another open page without a reload; then retry one
failure group from the failed tab."""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, Page, expect

from queuecore import Queue
from tests.dashboard.failing import cards, make_failures, timeouts

from .test_live import LIVE_MS, assert_not_reloaded, mark, probe, queue_path, tab_count, wait_live

pytestmark = pytest.mark.browser


def messages_seen(page: Page) -> int:
    return page.evaluate("() => window.__live.messages")


def test_retry_selected_jobs_and_a_failure_group(logged_in_page: Page, queue: Queue,
                                                 redis_url: str) -> None:
    page = probe(logged_in_page)
    card_ids = make_failures(queue, redis_url, cards(3))
    timeout_ids = make_failures(queue, redis_url, timeouts(2))

    watcher = page.context.new_page()
    watcher.goto(queue_path(queue, "failed"))
    expect(watcher.locator("#job-list tbody tr[id^=job-]")).to_have_count(5)
    wait_live(watcher)
    mark(watcher)

    page.goto(queue_path(queue, "failed"))
    expect(tab_count(page, "failed")).to_have_text("5")
    wait_live(page)
    bar = page.locator("#bulk-form")
    retry_selected = bar.get_by_role("button", name="Retry selected")
    expect(retry_selected).to_be_disabled()
    for job_id in card_ids[:2]:
        page.locator(f"#job-{job_id} input.pick").check()
    expect(bar.locator(".bulk-count")).to_have_text("2 selected")
    expect(retry_selected).to_be_enabled()

    # a live push re-renders the list: the selection stays
    before = messages_seen(page)
    queue.add("unrelated")  # an event on the queue
    page.wait_for_function(f"() => window.__live.messages > {before}", timeout=LIVE_MS)
    for job_id in card_ids[:2]:
        expect(page.locator(f"#job-{job_id} input.pick")).to_be_checked()
    expect(page.locator(f"#job-{card_ids[2]} input.pick")).not_to_be_checked()

    with page.expect_navigation(wait_until="load"):
        retry_selected.click()
    expect(page.locator(".messages li.success")).to_have_text(
        "Retried 2 of 2 selected job(s).")
    assert page.url.endswith(queue_path(queue, "failed")), page.url
    assert all(queue.get_job(i).get_state() == "waiting" for i in card_ids[:2])
    # the other page saw them leave, live
    expect(watcher.locator("#job-list tbody tr[id^=job-]")).to_have_count(3, timeout=LIVE_MS)
    for job_id in card_ids[:2]:
        expect(watcher.locator(f"#job-{job_id}")).to_have_count(0)
    expect(tab_count(watcher, "failed")).to_have_text("3", timeout=LIVE_MS)
    assert_not_reloaded(watcher)

    # failures grouped by cause: one card failure left, two timeouts
    groups = page.locator("#failure-groups table.failure-groups tbody tr")
    expect(groups).to_have_count(2, timeout=LIVE_MS)
    timeout_row = groups.filter(has_text="gateway_timeout")
    expect(timeout_row.locator("td").first).to_have_text("2")
    expect(page.locator("#failure-groups h2 small")).to_have_text("all 3 failed job(s) grouped")

    def accept(dialog: Dialog) -> None:
        dialog.accept()

    page.on("dialog", accept)
    with page.expect_navigation(wait_until="load"):
        timeout_row.get_by_role("button", name="Retry group").click()
    expect(page.locator(".messages li.success")).to_contain_text("Retried 2 failed job(s)")
    expect(groups).to_have_count(1, timeout=LIVE_MS)
    expect(groups.first).to_contain_text("card_declined")
    assert {queue.get_job(i).get_state() for i in timeout_ids} == {"waiting"}
    assert queue.get_job(card_ids[2]).get_state() == "failed"
    expect(watcher.locator("#job-list tbody tr[id^=job-]")).to_have_count(1, timeout=LIVE_MS)
    assert_not_reloaded(watcher)


def test_a_dismissed_confirm_sends_nothing(logged_in_page: Page, redis_url: str,
                                           queue_name: str) -> None:
    """The question shows the queue's name as it is (quotes, ``<``, ``&``);
    dismissed, no request leaves the page; accepted, the action runs."""
    page = logged_in_page
    queue = Queue(queue_name + "'\"<b>&", connection=redis_url)
    try:
        ids = [queue.add("w", {"n": n}).id for n in range(3)]
        page.goto(queue_path(queue, "waiting"))
        expect(page.locator("#job-list tbody tr[id^=job-]")).to_have_count(3)
        posts: list[str] = []
        page.on("request", lambda request: posts.append(request.url)
                if request.method == "POST" else None)
        questions: list[str] = []

        def dismiss(dialog: Dialog) -> None:
            questions.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", dismiss)
        page.get_by_role("button", name="Drain").click()
        page.locator(f"#job-{ids[0]} input.pick").check()
        page.locator("#bulk-form").get_by_role("button", name="Remove selected").click()
        page.wait_for_timeout(500)  # what a sent form would take to leave
        assert questions == [f"Remove every waiting job of {queue.name}?",
                             "Remove the selected jobs for good?"]
        assert posts == []
        assert [queue.get_job(i).get_state() for i in ids] == ["waiting"] * 3

        page.remove_listener("dialog", dismiss)
        page.once("dialog", lambda dialog: dialog.accept())
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("button", name="Drain").click()
        expect(page.locator(".messages li.success")).to_have_text(
            f"Drained {queue.name}: removed 3 waiting job(s).")
        assert all(queue.get_job(i) is None for i in ids)
    finally:
        queue.obliterate(force=True)
        queue.close()
