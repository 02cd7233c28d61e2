"""Dashboard fixtures: settings pointing at the test Redis, users with and
without the dashboard's permissions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from queuecore import Queue, discovery


@pytest.fixture(autouse=True)
def dashboard_settings(settings: Any, redis_url: str, queue_name: str,
                       monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("QUEUECORE_REDIS_URL", redis_url)
    settings.QUEUECORE = {"REDIS_URL": redis_url, "PREFIX": "bull"}
    settings.QUEUECORE_DASHBOARD = {"QUEUES": [queue_name], "PAGE_SIZE": 5, "READ_ONLY": False}
    discovery.forget_discovered()
    yield settings


def _user(django_user_model: Any, username: str, *, staff: bool, perms: tuple[str, ...]) -> Any:
    user = django_user_model.objects.create_user(username, password="pw", is_staff=staff)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename,
                                                         content_type__app_label="dashboard"))
    return user


@pytest.fixture
def operator(db: None, django_user_model: Any) -> Client:
    client = Client()
    client.force_login(_user(django_user_model, "operator", staff=True,
                             perms=("view_queues", "operate_queues")))
    return client


@pytest.fixture
def viewer(db: None, django_user_model: Any) -> Client:
    client = Client()
    client.force_login(_user(django_user_model, "viewer", staff=True, perms=("view_queues",)))
    return client


@pytest.fixture
def staff_without_perms(db: None, django_user_model: Any) -> Client:
    client = Client()
    client.force_login(_user(django_user_model, "nobody", staff=True, perms=()))
    return client


@pytest.fixture
def not_staff(db: None, django_user_model: Any) -> Client:
    client = Client()
    client.force_login(_user(django_user_model, "plain", staff=False,
                             perms=("view_queues", "operate_queues")))
    return client


@pytest.fixture
def filled(queue: Queue) -> Queue:
    """A queue with a job in most states (no worker: states set by the API)."""
    queue.add("waiting-job", {"n": 1})
    queue.add("prio-job", {"n": 2}, priority=3)
    queue.add("later-job", {"n": 3}, delay=60_000)
    return queue
