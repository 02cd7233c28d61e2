"""Smoke tests of the dashboard at /admin/queues/ in a real browser."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, Response, expect

from .support import DASHBOARD_PATH, LOGIN_PATH, PLAIN_USER

pytestmark = pytest.mark.browser

ON_LOGIN_PAGE = re.compile(re.escape(LOGIN_PATH) + r"\?next=" + re.escape(DASHBOARD_PATH))


def test_anonymous_visit_ends_on_login_page(page: Page) -> None:
    page.goto(DASHBOARD_PATH)
    expect(page).to_have_url(ON_LOGIN_PAGE)
    expect(page.locator("#id_username")).to_be_visible()
    expect(page.locator("#id_password")).to_be_visible()


def test_admin_sees_overview(logged_in_page: Page, screenshot_dir: Path) -> None:
    page = logged_in_page
    failed_static: list[str] = []

    def check(response: Response) -> None:
        if "/static/" in response.url and response.status >= 400:
            failed_static.append(f"{response.status} {response.url}")

    page.on("response", check)
    response = page.goto(DASHBOARD_PATH)
    try:
        assert response is not None
        assert response.status == 200, f"GET {DASHBOARD_PATH} answered {response.status}"
        expect(page).to_have_url(re.compile(re.escape(DASHBOARD_PATH) + "$"))
        heading = page.locator("h1").filter(has_text=re.compile("Queues"))
        expect(heading.first).to_be_visible()
    finally:  # the picture of whatever the page shows, for the report
        page.screenshot(path=str(screenshot_dir / "overview-first-login.png"), full_page=True)
    assert not failed_static, f"static files not served: {failed_static}"


def test_static_files_are_served(page: Page) -> None:
    """Daphne with DEBUG=0 serves static files only through the ASGI app."""
    response = page.request.get("/static/admin/css/base.css")
    assert response.status == 200, f"/static/admin/css/base.css answered {response.status}"


def test_non_staff_user_is_refused_by_the_login_form(
    page: Page, login: Callable[..., Page]
) -> None:
    login(page, *PLAIN_USER)
    expect(page).to_have_url(ON_LOGIN_PAGE)
    expect(page.locator(".errornote")).to_be_visible()


def test_non_staff_session_is_refused_by_the_dashboard(
    page: Page, login_as: Callable[..., Page]
) -> None:
    login_as(page, PLAIN_USER[0])
    response = page.goto(DASHBOARD_PATH)
    assert response is not None
    refused = response.status == 403 or LOGIN_PATH in page.url
    assert refused, f"non-staff user got {response.status} at {page.url}"
    expect(page.locator("h1").filter(has_text=re.compile("Queues"))).to_have_count(0)
