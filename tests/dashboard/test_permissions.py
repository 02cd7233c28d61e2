"""Who may do what, where: each action allowed by its own permission and
refused without it (views and pushed partials), operate_queues granting all,
and QueueAccess rules hiding queues everywhere (404, never 403)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, Permission
from django.test import Client

from dashboard.access import ACTION_KINDS
from dashboard.models import AuditEntry, QueueAccess
from dashboard.routing import websocket_urlpatterns
from queuecore import Queue
from tests.dashboard.failing import cards, make_failures

ACTION_PERMS = [p.split(".")[1] for p in ACTION_KINDS.values()]


def make_user(django_user_model: Any, *perms: str, groups: tuple[Group, ...] = ()) -> Any:
    user = django_user_model.objects.create_user(f"u{time.monotonic_ns()}", password="pw",
                                                 is_staff=True)
    for codename in ("view_queues", *perms):
        user.user_permissions.add(Permission.objects.get(codename=codename,
                                                         content_type__app_label="dashboard"))
    user.groups.add(*groups)
    return django_user_model.objects.get(pk=user.pk)  # fresh: no permission cache


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@dataclass
class Case:
    """One action: the permission it needs, how to set it up, post it and see it done."""

    id: str
    perm: str
    setup: Callable[[Queue, str], dict[str, Any]]
    url: Callable[[Queue, dict[str, Any]], str]
    data: Callable[[dict[str, Any]], dict[str, Any]]
    done: Callable[[Queue, dict[str, Any]], bool]


def _state(queue: Queue, job_id: str) -> str | None:
    job = queue.get_job(job_id)
    return job.get_state() if job else None


def _failed(queue: Queue, redis_url: str) -> dict[str, Any]:
    return {"ids": make_failures(queue, redis_url, cards(2))}


def _delayed(queue: Queue, redis_url: str) -> dict[str, Any]:
    return {"ids": [queue.add("d", {"v": 1}, delay=60_000).id for _ in range(2)]}


def _waiting(queue: Queue, redis_url: str) -> dict[str, Any]:
    return {"ids": [queue.add("w", {"v": 1}).id for _ in range(2)]}


def _group_key(queue: Queue) -> str:
    from dashboard.failures import group_failures

    return group_failures(queue).groups[0].key


BASE = "/admin/queues/"
CASES = [
    Case("pause", "pause_queues", lambda q, u: {},
         lambda q, c: f"{BASE}{q.name}/actions/pause/", lambda c: {}, lambda q, c: q.is_paused()),
    Case("retry-all", "retry_jobs", _failed, lambda q, c: f"{BASE}{q.name}/actions/retry-all/",
         lambda c: {"state": "failed"},
         lambda q, c: q.get_job_counts("failed")["failed"] == 0),
    Case("promote-all", "promote_jobs", _delayed,
         lambda q, c: f"{BASE}{q.name}/actions/promote-all/", lambda c: {},
         lambda q, c: q.get_job_counts("delayed")["delayed"] == 0),
    Case("clean", "clean_queues", _waiting, lambda q, c: f"{BASE}{q.name}/actions/clean/",
         lambda c: {"state": "wait"}, lambda q, c: q.get_job_counts("waiting")["waiting"] == 0),
    Case("drain", "drain_queues", _waiting, lambda q, c: f"{BASE}{q.name}/actions/drain/",
         lambda c: {}, lambda q, c: q.get_job_counts("waiting")["waiting"] == 0),
    Case("obliterate", "obliterate_queues", _waiting,
         lambda q, c: f"{BASE}{q.name}/actions/obliterate/",
         lambda c: {"confirm": "QUEUE", "force": "1"},
         lambda q, c: q.get_job_counts("waiting")["waiting"] == 0),
    Case("job-retry", "retry_jobs", _failed,
         lambda q, c: f"{BASE}{q.name}/jobs/{c['ids'][0]}/actions/retry/", lambda c: {},
         lambda q, c: _state(q, c["ids"][0]) == "waiting"),
    Case("job-promote", "promote_jobs", _delayed,
         lambda q, c: f"{BASE}{q.name}/jobs/{c['ids'][0]}/actions/promote/", lambda c: {},
         lambda q, c: _state(q, c["ids"][0]) == "waiting"),
    Case("job-remove", "remove_jobs", _waiting,
         lambda q, c: f"{BASE}{q.name}/jobs/{c['ids'][0]}/actions/remove/", lambda c: {},
         lambda q, c: q.get_job(c["ids"][0]) is None),
    Case("edit-data", "edit_jobs", _waiting,
         lambda q, c: f"{BASE}{q.name}/jobs/{c['ids'][0]}/actions/edit-data/",
         lambda c: {"data": '{"v": 2}'}, lambda q, c: q.get_job(c["ids"][0]).data == {"v": 2}),
    Case("change-delay", "edit_jobs", _delayed,
         lambda q, c: f"{BASE}{q.name}/jobs/{c['ids'][0]}/actions/change-delay/",
         lambda c: {"delay": "5"}, lambda q, c: q.get_job(c["ids"][0]).delay == 5),
    Case("change-priority", "edit_jobs", _waiting,
         lambda q, c: f"{BASE}{q.name}/jobs/{c['ids'][0]}/actions/change-priority/",
         lambda c: {"priority": "3"}, lambda q, c: q.get_job(c["ids"][0]).priority == 3),
    Case("duplicate", "add_jobs", _waiting,
         lambda q, c: f"{BASE}{q.name}/jobs/{c['ids'][0]}/actions/duplicate/", lambda c: {},
         lambda q, c: q.get_job_counts("waiting")["waiting"] == 3),
    Case("add", "add_jobs", lambda q, u: {}, lambda q, c: f"{BASE}{q.name}/add/",
         lambda c: {"name": "new", "data": "{}"},
         lambda q, c: q.get_job_counts("waiting")["waiting"] == 1),
    Case("bulk-retry", "retry_jobs", _failed, lambda q, c: f"{BASE}{q.name}/bulk/retry/",
         lambda c: {"ids": c["ids"]}, lambda q, c: q.get_job_counts("failed")["failed"] == 0),
    Case("bulk-promote", "promote_jobs", _delayed, lambda q, c: f"{BASE}{q.name}/bulk/promote/",
         lambda c: {"ids": c["ids"]}, lambda q, c: q.get_job_counts("delayed")["delayed"] == 0),
    Case("bulk-remove", "remove_jobs", _waiting, lambda q, c: f"{BASE}{q.name}/bulk/remove/",
         lambda c: {"ids": c["ids"]}, lambda q, c: q.get_job_counts("waiting")["waiting"] == 0),
    Case("retry-group", "retry_jobs", _failed,
         lambda q, c: f"{BASE}{q.name}/failures/{_group_key(q)}/actions/retry-group/",
         lambda c: {}, lambda q, c: q.get_job_counts("failed")["failed"] == 0),
    Case("clean-group", "clean_queues", _failed,
         lambda q, c: f"{BASE}{q.name}/failures/{_group_key(q)}/actions/clean-group/",
         lambda c: {}, lambda q, c: q.get_job_counts("failed")["failed"] == 0),
]
def _post(client: Client, case: Case, queue: Queue, ctx: dict[str, Any]) -> Any:
    data = case.data(ctx)
    if data.get("confirm") == "QUEUE":  # obliterate asks for the queue's name
        data["confirm"] = queue.name
    return client.post(case.url(queue, ctx), data)


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_action_is_granted_by_its_own_permission(case: Case, queue: Queue, redis_url: str,
                                                      django_user_model: Any) -> None:
    ctx = case.setup(queue, redis_url)
    others = [p for p in ACTION_PERMS if p != case.perm]
    refused = _post(client_for(make_user(django_user_model, *others)), case, queue, ctx)
    assert refused.status_code == 403
    assert not case.done(queue, ctx)
    assert not AuditEntry.objects.exists()
    allowed = _post(client_for(make_user(django_user_model, case.perm)), case, queue, ctx)
    assert allowed.status_code == 302
    assert case.done(queue, ctx)
    assert AuditEntry.objects.count() == 1


@pytest.mark.django_db
def test_operate_queues_grants_every_action_and_read_only_none(
        queue: Queue, redis_url: str, django_user_model: Any, settings: Any) -> None:
    user = make_user(django_user_model, "operate_queues")
    page = client_for(user).get(f"{BASE}{queue.name}/?state=waiting").content.decode()
    for button in ("Pause", "Retry all failed", "Promote all delayed", "Clean", "Drain",
                   "Obliterate", "Add job", "Retry selected", "Remove selected"):
        assert button in page
    settings.QUEUECORE_DASHBOARD = {**settings.QUEUECORE_DASHBOARD, "READ_ONLY": True}
    page = client_for(user).get(f"{BASE}{queue.name}/?state=waiting").content.decode()
    assert "Pause" not in page and "Retry selected" not in page and 'class="pick' not in page
    assert client_for(user).post(f"{BASE}{queue.name}/bulk/remove/").status_code == 403


@pytest.mark.django_db
def test_pages_show_only_the_buttons_the_user_may_use(queue: Queue, redis_url: str,
                                                      django_user_model: Any) -> None:
    failed = make_failures(queue, redis_url, cards(1))[0]
    retrier = client_for(make_user(django_user_model, "retry_jobs"))
    page = retrier.get(f"{BASE}{queue.name}/?state=failed").content.decode()
    assert "Retry all failed" in page and "Retry selected" in page
    assert "Pause" not in page and "Remove selected" not in page and "Drain" not in page
    assert "Add job" not in page
    job_page = retrier.get(f"{BASE}{queue.name}/jobs/{failed}/").content.decode()
    assert "<button>Retry</button>" in job_page and ">Remove</button>" not in job_page
    assert "Duplicate" not in job_page and "Edit data" not in job_page
    viewer = client_for(make_user(django_user_model))
    page = viewer.get(f"{BASE}{queue.name}/?state=failed").content.decode()
    assert 'class="pick' not in page and "bulk-form" not in page
    assert viewer.get(f"{BASE}{queue.name}/add/").status_code == 403


# -- websocket consumers -------------------------------------------------------------


async def _first_push(path: str, user: Any, cookies: dict[str, str] | None = None
                      ) -> tuple[bool, Any, str]:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    communicator.scope["cookies"] = cookies or {"csrftoken": "a" * 32}
    connected, code = await communicator.connect(timeout=5)
    message = await communicator.receive_from(timeout=5) if connected else ""
    await communicator.disconnect()
    return connected, code, message


@pytest.mark.django_db(transaction=True)
def test_pushed_job_buttons_follow_each_permission(queue: Queue, redis_url: str,
                                                   django_user_model: Any) -> None:
    job = make_failures(queue, redis_url, cards(1))[0]
    path = f"/ws/queues/{queue.name}/jobs/{job}/"
    pushed = {perm: async_to_sync(_first_push)(path, make_user(django_user_model, perm))[2]
              for perm in ("retry_jobs", "remove_jobs", "add_jobs")}
    assert "<button>Retry</button>" in pushed["retry_jobs"]
    assert ">Remove</button>" not in pushed["retry_jobs"]
    assert ">Remove</button>" in pushed["remove_jobs"]
    assert "<button>Retry</button>" not in pushed["remove_jobs"]
    assert "<button>Duplicate</button>" in pushed["add_jobs"]
    assert "<button>Retry</button>" not in pushed["add_jobs"]
    _, _, viewer = async_to_sync(_first_push)(path, make_user(django_user_model))
    assert "<button" not in viewer


@pytest.mark.django_db(transaction=True)
def test_pushed_job_list_has_checkboxes_only_for_bulk_actions(queue: Queue,
                                                              django_user_model: Any) -> None:
    job = queue.add("w")
    path = f"/ws/queues/{queue.name}/?state=waiting"
    _, _, bulk = async_to_sync(_first_push)(path, make_user(django_user_model, "promote_jobs"))
    assert f'value="{job.id}" form="bulk-form"' in bulk
    _, _, other = async_to_sync(_first_push)(path, make_user(django_user_model, "pause_queues"))
    assert f'id="job-{job.id}"' in other and "bulk-form" not in other


# -- per-queue visibility ------------------------------------------------------------


@pytest.fixture
def two_queues(queue: Queue, redis_url: str, settings: Any) -> tuple[Queue, Queue]:
    hidden = Queue(f"secret-{queue.name}", connection=redis_url)
    settings.QUEUECORE_DASHBOARD = {**settings.QUEUECORE_DASHBOARD,
                                    "QUEUES": [queue.name, hidden.name]}
    yield queue, hidden
    hidden.obliterate(force=True)
    hidden.close()


def _team(pattern: str, can_operate: bool) -> Group:
    group = Group.objects.create(name=f"team-{time.monotonic_ns()}")
    QueueAccess.objects.create(group=group, pattern=pattern, can_operate=can_operate)
    return group


@pytest.mark.django_db
def test_queue_access_hides_other_queues_in_every_view(two_queues: tuple[Queue, Queue],
                                                       django_user_model: Any,
                                                       operator: Client) -> None:
    mine, hidden = two_queues
    secret_job = hidden.add("secret", {"x": 1}).id
    operator.post(f"{BASE}{hidden.name}/actions/pause/")  # an audit entry naming it
    user = make_user(django_user_model, "operate_queues",
                     groups=(_team(mine.name[:6] + "*", True),))
    client = client_for(user)
    overview = client.get(BASE).content.decode()
    assert mine.name in overview and hidden.name not in overview
    assert hidden.name not in client.get(f"{BASE}-/activity/").content.decode()
    gets = [f"{BASE}{hidden.name}/", f"{BASE}{hidden.name}/?state=failed",
            f"{BASE}{hidden.name}/jobs/{secret_job}/",
            f"{BASE}{hidden.name}/jobs/{secret_job}/raw/", f"{BASE}{hidden.name}/add/",
            f"{BASE}{hidden.name}/failures/", f"{BASE}{hidden.name}/jobs/nope/"]
    for url in gets:
        assert client.get(url).status_code == 404, url
    posts = [f"{BASE}{hidden.name}/actions/resume/", f"{BASE}{hidden.name}/add/",
             f"{BASE}{hidden.name}/jobs/{secret_job}/actions/remove/",
             f"{BASE}{hidden.name}/bulk/remove/", f"{BASE}{hidden.name}/failures/x/actions/"
             "clean-group/"]
    for url in posts:
        response = client.post(url, {"ids": [secret_job], "name": "x"})
        assert response.status_code == 404, url
        assert hidden.name not in response.content.decode()
    assert hidden.get_job(secret_job) is not None and hidden.is_paused()
    assert client.get(f"{BASE}{mine.name}/").status_code == 200
    assert client.post(f"{BASE}{mine.name}/actions/pause/").status_code == 302
    assert mine.is_paused()


@pytest.mark.django_db
def test_a_rule_without_can_operate_lets_members_look_not_act(
        two_queues: tuple[Queue, Queue], django_user_model: Any) -> None:
    mine, other = two_queues
    user = make_user(django_user_model, "operate_queues",
                     groups=(_team(mine.name, True), _team(other.name, False)))
    client = client_for(user)
    page = client.get(f"{BASE}{other.name}/").content.decode()
    assert "Pause" not in page and "bulk-form" not in page
    assert client.post(f"{BASE}{other.name}/actions/pause/").status_code == 403
    assert not other.is_paused()
    assert client.post(f"{BASE}{mine.name}/actions/pause/").status_code == 302
    # without any rule in their groups, users are not limited; superusers never are
    free = client_for(make_user(django_user_model))
    assert other.name in free.get(BASE).content.decode()


@pytest.mark.django_db(transaction=True)
def test_sockets_of_hidden_queues_are_refused_and_the_overview_leaves_them_out(
        two_queues: tuple[Queue, Queue], django_user_model: Any) -> None:
    mine, hidden = two_queues
    job = hidden.add("secret").id
    user = make_user(django_user_model, groups=(_team(mine.name, False),))
    for path in (f"/ws/queues/{hidden.name}/", f"/ws/queues/{hidden.name}/jobs/{job}/"):
        connected, code, _ = async_to_sync(_first_push)(path, user)
        assert not connected and code == 4404, path
    connected, _, message = async_to_sync(_first_push)("/ws/queues/", user)
    assert connected and mine.name in message and hidden.name not in message
    connected, _, _ = async_to_sync(_first_push)(f"/ws/queues/{mine.name}/", user)
    assert connected


def test_permissions_exist_after_migrating(db: None) -> None:
    names = set(Permission.objects.filter(content_type__app_label="dashboard")
                .values_list("codename", flat=True))
    assert {"view_queues", "operate_queues", *ACTION_PERMS} <= names


@pytest.mark.django_db
def test_a_flow_does_not_name_queues_the_user_may_not_see(two_queues: tuple[Queue, Queue],
                                                          redis_url: str,
                                                          django_user_model: Any) -> None:
    from queuecore import FlowProducer

    mine, hidden = two_queues
    with FlowProducer(redis_url) as flows:
        tree = flows.add({"name": "ship", "queue_name": mine.name, "children": [
            {"name": "charge", "queue_name": hidden.name},
            {"name": "pack", "queue_name": mine.name}]})
    charge, pack = (child.job for child in tree.children)
    assert hidden.get_job(charge.id) is not None
    user = make_user(django_user_model, groups=(_team(mine.name, False),))
    page = client_for(user).get(f"{BASE}{mine.name}/jobs/{tree.job.id}/").content.decode()
    assert f"{BASE}{mine.name}/jobs/{pack.id}/" in page
    assert hidden.name not in page and "a job in another queue" in page
    free = client_for(make_user(django_user_model))
    assert hidden.name in free.get(f"{BASE}{mine.name}/jobs/{tree.job.id}/").content.decode()
