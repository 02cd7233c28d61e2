"""The confirm questions: no inline handler or inline script on any page,
each question a ``data-confirm`` attribute whose text is the name as it is,
quotes and ``<`` included (the browser side is tests/browser/test_pages.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from queuecore import Queue

pytestmark = pytest.mark.django_db

NASTY = "q'\"</form><script>alert(1)</script>"


class Attributes(HTMLParser):
    """Every start tag with its attributes, as a browser would read them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script" and "src" not in dict(attrs)

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def parsed(page: str) -> Attributes:
    parser = Attributes()
    parser.feed(page)
    return parser


@pytest.fixture
def nasty(redis_url: str, queue_name: str, settings: Any) -> Iterator[Queue]:
    q = Queue(queue_name + NASTY, connection=redis_url)
    settings.QUEUECORE_DASHBOARD = {**settings.QUEUECORE_DASHBOARD, "QUEUES": [q.name]}
    yield q
    q.obliterate(force=True)
    q.close()


def questions(page: str) -> list[str]:
    tags = parsed(page).tags
    assert not [t for t, attrs in tags if any(a.startswith("on") for a in attrs)]
    return [str(attrs["data-confirm"]) for _, attrs in tags if "data-confirm" in attrs]


def test_questions_keep_quotes_and_markup_as_text(operator: Client, nasty: Queue) -> None:
    job = nasty.add("j", {}, job_id="j" + NASTY, delay=60_000)
    nasty.upsert_job_scheduler("s" + NASTY, {"every": 60_000}, {"name": "tick"})
    name = nasty.name
    queue_page = operator.get(reverse("dashboard:queue", args=[name]))
    assert queue_page.status_code == 200
    page = queue_page.content.decode()
    asked = questions(page)
    assert f"Retry every failed job of {name}?" in asked
    assert f"Remove every waiting job of {name}?" in asked
    assert "Remove these jobs for good?" in asked
    assert parsed(page).inline_scripts == 0 and "alert(1)</script>" not in page

    job_page = operator.get(reverse("dashboard:job", args=[name, job.id])).content.decode()
    assert f"Remove job {job.id} for good?" in questions(job_page)
    assert parsed(job_page).inline_scripts == 0

    schedulers = operator.get("/admin/queues/-/schedulers/").content.decode()
    assert f"Remove scheduler s{NASTY} and its pending run?" in questions(schedulers)
    assert parsed(schedulers).inline_scripts == 0


def test_every_confirm_is_an_attribute(operator: Client, queue: Queue) -> None:
    queue.add("j", {})
    for url in (f"/admin/queues/{queue.name}/", "/admin/queues/",
                f"/admin/queues/{queue.name}/?state=failed"):
        page = operator.get(url).content.decode()
        assert "confirm(" not in page and parsed(page).inline_scripts == 0
        questions(page)


def test_no_template_has_an_inline_handler_or_script() -> None:
    """Beyond the pages above: every template of the dashboard, as written."""
    templates = Path(__file__).resolve().parents[2] / "dashboard" / "templates"
    for template in templates.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
