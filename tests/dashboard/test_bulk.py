"""Bulk actions on the jobs selected in a list: one POST, CSRF, a
permission per action, counts of what could not be done and why, audited."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from django.test import Client

from dashboard.models import AuditEntry
from queuecore import Job, Queue, Worker
from tests.dashboard.failing import cards, make_failures
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db


def bulk(client: Client, queue: Queue, action: str, ids: list[str], **extra: Any) -> Any:
    return client.post(f"/admin/queues/{queue.name}/bulk/{action}/", {"ids": ids, **extra},
                       follow=True)


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_retry_selected_reports_what_could_not_be_retried(operator: Client, queue: Queue,
                                                          redis_url: str) -> None:
    failed = make_failures(queue, redis_url, cards(3))
    waiting = queue.add("w").id
    response = bulk(operator, queue, "retry", [failed[0], failed[1], waiting, "missing",
                                               failed[0]])
    assert [queue.get_job(i).get_state() for i in failed] == ["waiting", "waiting", "failed"]
    assert messages_of(response) == [
        f"Retried 2 of 4 selected job(s). Not retried: is waiting, not failed or completed: "
        f"{waiting}; no longer exists: missing."]
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.username, entry.queue) == ("bulk-retry", "operator", queue.name)
    assert entry.job_ids == [failed[0], failed[1]]
    assert "Not retried" in entry.detail


def test_remove_and_promote_selected(operator: Client, queue: Queue) -> None:
    delayed = [queue.add("d", delay=60_000).id for _ in range(3)]
    waiting = queue.add("w").id
    response = bulk(operator, queue, "promote", [delayed[0], delayed[1], waiting])
    assert "Promoted 2 of 3 selected job(s)" in messages_of(response)[0]
    assert f"is waiting, not delayed: {waiting}" in messages_of(response)[0]
    assert queue.get_job_counts("delayed", "waiting") == {"delayed": 1, "waiting": 3}
    response = bulk(operator, queue, "remove", [delayed[0], delayed[2], waiting])
    assert messages_of(response) == ["Removed 3 of 3 selected job(s)."]
    assert all(queue.get_job(i) is None for i in (delayed[0], delayed[2], waiting))
    assert queue.get_job(delayed[1]) is not None
    assert [e.action for e in AuditEntry.objects.order_by("id")] == ["bulk-promote",
                                                                   "bulk-remove"]


def test_a_locked_job_is_not_removed(operator: Client, queue: Queue, redis_url: str,
                                     run_worker: Any) -> None:
    release = threading.Event()

    async def hold(job: Job) -> None:
        while not release.is_set():  # a worker holds its lock meanwhile
            await asyncio.sleep(0.02)

    job = queue.add("busy")
    run_worker(Worker(queue.name, hold, connection=redis_url))
    wait_for(lambda: job.get_state() == "active", what="the job to be taken")
    try:
        response = bulk(operator, queue, "remove", [job.id])
    finally:
        release.set()
    assert messages_of(response) == [
        f"Removed 0 of 1 selected job(s). Not removed: is being processed (locked): {job.id}."]
    assert queue.get_job(job.id) is not None


def test_bad_requests_change_nothing(operator: Client, viewer: Client, queue: Queue,
                                     db: None, django_user_model: Any) -> None:
    job = queue.add("w").id
    assert messages_of(bulk(operator, queue, "remove", [])) == ["select at least one job first"]
    too_many = bulk(operator, queue, "remove", [str(i) for i in range(501)])
    assert "at most 500" in messages_of(too_many)[0]
    assert "unknown action" in messages_of(bulk(operator, queue, "obliterate", [job]))[0]
    assert operator.get(f"/admin/queues/{queue.name}/bulk/remove/").status_code == 405
    assert viewer.post(f"/admin/queues/{queue.name}/bulk/remove/", {"ids": [job]}
                       ).status_code == 403
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(django_user_model.objects.get(username="operator"))
    assert csrf_client.post(f"/admin/queues/{queue.name}/bulk/remove/", {"ids": [job]}
                            ).status_code == 403
    assert queue.get_job(job) is not None
    assert not AuditEntry.objects.exists()


def test_list_has_checkboxes_select_all_and_the_bulk_form(operator: Client,
                                                          queue: Queue) -> None:
    job = queue.add("w").id
    page = operator.get(f"/admin/queues/{queue.name}/?state=waiting").content.decode()
    assert f'name="ids" value="{job}" form="bulk-form"' in page
    assert 'class="pick-all"' in page and 'id="bulk-form"' in page
    assert f'formaction="/admin/queues/{queue.name}/bulk/retry/"' in page
    response = operator.post(f"/admin/queues/{queue.name}/bulk/remove/",
                             {"ids": [job], "next": f"/admin/queues/{queue.name}/?state=waiting"})
    assert response["Location"] == f"/admin/queues/{queue.name}/?state=waiting"
