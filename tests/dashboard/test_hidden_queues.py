"""Queues a user may not see stay out of reach through a visible queue: no
option names a job in them, and flows do not name them (pages, lists,
failure reasons, pushes)."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from typing import Any

import pytest
import redis
from django.test import Client
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dashboard.models import AuditEntry
from queuecore import FlowProducer, Queue, Worker
from tests.dashboard.test_export import fetch
from tests.dashboard.test_permissions import _team, client_for, make_user, two_queues
from tests.helpers import wait_for

__all__ = ["two_queues"]  # the fixture, imported for the tests below

BASE = "/admin/queues/"


def _error(response: Any) -> str:
    found = re.search(r'<p class="form-error" role="alert">(.*?)</p>',
                      response.content.decode(), re.S)
    return found.group(1) if found else ""


def _add_with_parent(client: Client, queue: Queue, parent: dict[str, str]) -> Any:
    return client.post(f"{BASE}{queue.name}/add/", {
        "name": "child", "data": "{}", "options": json.dumps({"parent": parent})})


@pytest.mark.django_db
def test_add_job_refuses_a_parent_the_user_may_not_add_to_alike_whether_it_exists(
        two_queues: tuple[Queue, Queue], django_user_model: Any, r: redis.Redis) -> None:
    mine, hidden = two_queues
    secret = hidden.add("secret", {"x": 1}).id
    looker = Queue(f"{mine.name}-ro", connection=mine.connection)
    seen = looker.add("seen", {}).id
    user = make_user(django_user_model, "add_jobs",
                     groups=(_team(mine.name, True), _team(looker.name, False)))
    client = client_for(user)
    parents = [
        {"id": secret, "queue": f"bull:{hidden.name}"},  # hidden, exists
        {"id": "999", "queue": f"bull:{hidden.name}"},  # hidden, no such job
        {"id": secret, "queue": f"bull:no-such-{mine.name}"},  # no such queue
        {"id": secret, "queue": f"other:{mine.name}"},  # another prefix
        {"id": seen, "queue": f"bull:{looker.name}"},  # visible, but not to add to
    ]
    try:
        answers = set()
        for parent in parents:
            response = _add_with_parent(client, mine, parent)
            answers.add((response.status_code, _error(response)))
        assert len(answers) == 1, answers  # nothing tells them apart
        status, error = answers.pop()
        assert status == 400 and "parent" in error and hidden.name not in error
        assert not r.exists(f"bull:{hidden.name}:{secret}:dependencies")
        assert not r.exists(f"bull:{looker.name}:{seen}:dependencies")
        assert mine.get_job_counts("waiting")["waiting"] == 0
        assert not AuditEntry.objects.exists()
    finally:
        looker.obliterate(force=True)


@pytest.mark.django_db
def test_add_job_takes_a_parent_where_the_user_may_add(
        two_queues: tuple[Queue, Queue], django_user_model: Any, r: redis.Redis) -> None:
    mine, _ = two_queues
    parent = mine.add("parent", {}).id
    client = client_for(make_user(django_user_model, "add_jobs",
                                  groups=(_team(mine.name, True),)))
    missing = _add_with_parent(client, mine, {"id": "404", "queue": f"bull:{mine.name}"})
    assert missing.status_code == 400  # not a 500
    assert "no job '404' in queue" in _error(missing).replace("&#x27;", "'")
    done = _add_with_parent(client, mine, {"id": parent, "queue": f"bull:{mine.name}"})
    assert done.status_code == 302
    assert r.scard(f"bull:{mine.name}:{parent}:dependencies") == 1


@pytest.mark.django_db
def test_duplicate_does_not_add_a_child_to_a_hidden_parent(
        two_queues: tuple[Queue, Queue], django_user_model: Any, redis_url: str,
        r: redis.Redis) -> None:
    mine, hidden = two_queues
    with FlowProducer(redis_url) as flows:
        tree = flows.add({"name": "ship", "queue_name": hidden.name, "children": [
            {"name": "pack", "queue_name": mine.name}]})
    pack = tree.children[0].job
    user = make_user(django_user_model, "add_jobs", groups=(_team(mine.name, True),))
    response = client_for(user).post(f"{BASE}{mine.name}/jobs/{pack.id}/actions/duplicate/",
                                     follow=True)
    page = response.content.decode()
    assert r.scard(f"bull:{hidden.name}:{tree.job.id}:dependencies") == 1
    assert mine.get_job_counts("waiting")["waiting"] == 1  # pack only
    assert "was not duplicated: its parent must name a job in a queue you may add" in page
    assert hidden.name not in page
    assert not AuditEntry.objects.exists()


# -- flows do not name hidden queues -----------------------------------------------


def _socket_push(path: str, user: Any) -> str:
    from asgiref.sync import async_to_sync

    from tests.dashboard.test_permissions import _first_push

    connected, _, message = async_to_sync(_first_push)(path, user)
    assert connected, path
    return message


def fail_by_hidden_child(mine: Queue, hidden: Queue, redis_url: str, run_worker: Any) -> str:
    """A flow whose parent (in ``mine``) fails because its child in
    ``hidden`` failed with fail_parent_on_failure; the parent's id."""
    with FlowProducer(redis_url) as flows:
        tree = flows.add({"name": "ship", "queue_name": mine.name, "children": [
            {"name": "charge", "queue_name": hidden.name,
             "opts": {"fail_parent_on_failure": True, "attempts": 1}}]})

    def decline(job: Any) -> None:
        raise RuntimeError("declined")

    run_worker(Worker(hidden.name, decline, connection=redis_url))
    # the parent fails from its deferred failure when a worker of its own takes it
    run_worker(Worker(mine.name, decline, connection=redis_url))
    wait_for(lambda: mine.get_job(tree.job.id).get_state() == "failed", 10,
             what="the parent to fail")
    assert hidden.name in mine.get_job(tree.job.id).failed_reason  # BullMQ names the key
    return tree.job.id


@pytest.mark.django_db(transaction=True)
def test_a_parent_failed_by_a_hidden_child_does_not_name_its_queue(
        two_queues: tuple[Queue, Queue], django_user_model: Any, redis_url: str,
        run_worker: Any) -> None:
    mine, hidden = two_queues
    parent = mine.get_job(fail_by_hidden_child(mine, hidden, redis_url, run_worker))
    user = make_user(django_user_model, groups=(_team(mine.name, False),))
    client = client_for(user)
    shown = {
        "job page": client.get(f"{BASE}{mine.name}/jobs/{parent.id}/").content.decode(),
        "failed list": client.get(f"{BASE}{mine.name}/?state=failed").content.decode(),
        "failure groups": client.get(f"{BASE}{mine.name}/failures/").content.decode(),
        "export": b"".join(fetch(client, f"{BASE}{mine.name}/export/?format=csv")[1]).decode(),
        "job push": _socket_push(f"/ws/queues/{mine.name}/jobs/{parent.id}/", user),
        "list push": _socket_push(f"/ws/queues/{mine.name}/?state=failed", user),
    }
    for where, text in shown.items():
        assert hidden.name not in text, where
    assert "child a job in a queue you cannot see failed" in shown["job page"]
    assert "a job in a queue you cannot see" in shown["failed list"]
    # the group's signature too, its numbers and hex ids normalised
    assert "child a job in a queue you cannot see failed" in shown["failure groups"]
    free = client_for(make_user(django_user_model))
    assert hidden.name in free.get(f"{BASE}{mine.name}/jobs/{parent.id}/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_child_does_not_name_its_hidden_parent_in_its_options(
        two_queues: tuple[Queue, Queue], django_user_model: Any, redis_url: str) -> None:
    mine, hidden = two_queues
    with FlowProducer(redis_url) as flows:
        tree = flows.add({"name": "ship", "queue_name": hidden.name, "children": [
            {"name": "pack", "queue_name": mine.name}]})
    pack = tree.children[0].job
    user = make_user(django_user_model, groups=(_team(mine.name, False),))
    page = client_for(user).get(f"{BASE}{mine.name}/jobs/{pack.id}/").content.decode()
    push = _socket_push(f"/ws/queues/{mine.name}/jobs/{pack.id}/", user)
    for text in (page, push):
        assert hidden.name not in text
        assert "&quot;parent&quot;: &quot;a job in a queue you cannot see&quot;" in text


@pytest.mark.django_db
def test_the_redaction_replaces_whole_names_of_hidden_queues_only(
        django_user_model: Any) -> None:
    from dashboard.access import redactor

    user = make_user(django_user_model, groups=(_team("orders*", False),))
    redact = redactor(user)
    assert redact is not None
    assert redact("child bull:orders-eu:7 failed") == "child bull:orders-eu:7 failed"
    assert redact("child bull:payments:7 failed") == (
        "child a job in a queue you cannot see failed")
    assert redact("bull:ordersX:7 and bull:payments-orders:1, bull:order:2") == (
        "bull:ordersX:7 and a job in a queue you cannot see, a job in a queue you cannot see")
    assert redact('{"queue": "bull:payments-eu", "id": "1"}') == (
        '{"queue": "a queue you cannot see", "id": "1"}')
    assert redact("bull:payments:repeat:abc:1700000000000 moved") == (
        "a job in a queue you cannot see moved")
    assert redactor(make_user(django_user_model)) is None  # not limited: nothing to hide


_names = st.text(st.characters(blacklist_characters=":\"'\\\r\n",
                               blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
_ids = st.text("abcXYZ0189-_:", min_size=1, max_size=10)


@pytest.fixture
def orders_only(db: None, django_user_model: Any) -> Any:
    """The redaction for a user who sees the queues orders*."""
    from dashboard.access import redactor

    redact = redactor(make_user(django_user_model, groups=(_team("orders*", False),)))
    assert redact is not None
    return redact


@settings(max_examples=200)
@given(name=_names, job_id=_ids)
def test_no_part_of_a_hidden_name_is_left_in_what_bullmq_writes(
        orders_only: Any, name: str, job_id: str) -> None:
    from dashboard.access import HIDDEN_JOB, HIDDEN_QUEUE

    assume(not fnmatchcase(name, "orders*"))
    redact = orders_only
    key = f"bull:{name}:{job_id}"
    assert redact(f"child {key} failed") == f"child {HIDDEN_JOB} failed"
    assert redact(f"UnrecoverableError: child {key} failed\n    at f (x.js:1:2)") == (
        f"UnrecoverableError: child {HIDDEN_JOB} failed\n    at f (x.js:1:2)")
    opts = json.dumps({"parent": {"id": job_id, "queue": f"bull:{name}"}}, indent=2,
                      ensure_ascii=False)
    assert redact(opts) == json.dumps({"parent": {"id": job_id, "queue": HIDDEN_QUEUE}},
                                      indent=2)
    visible = f"child bull:orders{name}:{job_id} failed"  # a queue the user sees stays
    assert redact(visible) == visible


@pytest.mark.django_db(transaction=True)
def test_failure_group_reports_and_the_activity_log_do_not_name_hidden_queues(
        two_queues: tuple[Queue, Queue], django_user_model: Any, redis_url: str,
        run_worker: Any) -> None:
    from dashboard.failures import group_failures

    mine, hidden = two_queues
    fail_by_hidden_child(mine, hidden, redis_url, run_worker)
    key = group_failures(mine).groups[0].key
    free = client_for(make_user(django_user_model, "operate_queues"))
    free.post(f"{BASE}{mine.name}/failures/{key}/actions/retry-group/")  # audited, naming it
    named = "bull:secret-"  # the signature normalises the name's hex tail, not its head
    assert named in AuditEntry.objects.get().detail
    user = make_user(django_user_model, "operate_queues", groups=(_team(mine.name, True),))
    client = client_for(user)
    activity = client.get(f"{BASE}-/activity/").content.decode()
    assert "retry-group" in activity and named not in activity
    assert "a job in a queue you cannot see" in activity
    fail_by_hidden_child(mine, hidden, redis_url, run_worker)  # the same cause again
    done = client.post(f"{BASE}{mine.name}/failures/{key}/actions/retry-group/", follow=True)
    assert "Retried 1 failed job(s) of the group" in done.content.decode()
    assert named not in done.content.decode()
    assert named not in AuditEntry.objects.latest("pk").detail
