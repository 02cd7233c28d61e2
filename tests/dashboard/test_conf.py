"""The dashboard reads the Redis URL and the prefix where queuecore does
(``queuecore.conf``): the environment first, then ``QUEUECORE``."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from dashboard.conf import dashboard_settings
from queuecore import Queue


def test_prefix_and_url_are_queuecores(settings: Any, monkeypatch: pytest.MonkeyPatch,
                                       redis_url: str) -> None:
    settings.QUEUECORE = {"REDIS_URL": "redis://elsewhere:1", "PREFIX": "fromsettings"}
    monkeypatch.delenv("QUEUECORE_PREFIX", raising=False)
    assert dashboard_settings().prefix == "fromsettings"
    assert dashboard_settings().redis_url == redis_url  # QUEUECORE_REDIS_URL wins
    monkeypatch.setenv("QUEUECORE_PREFIX", "fromenv")
    assert dashboard_settings().prefix == "fromenv"


def test_pages_show_the_queues_under_the_environments_prefix(
        operator: Client, settings: Any, monkeypatch: pytest.MonkeyPatch, redis_url: str,
        queue_name: str) -> None:
    monkeypatch.setenv("QUEUECORE_PREFIX", "envprefix")
    queue = Queue(queue_name, redis_url, prefix="envprefix")
    queue.add("under-env-prefix")
    try:
        page = operator.get(f"/admin/queues/{queue_name}/")
        assert page.status_code == 200 and "under-env-prefix" in page.content.decode()
    finally:
        queue.obliterate(force=True)
        queue.close()
