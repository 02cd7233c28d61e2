"""Dashboard pages and actions over HTTP, against the test Redis."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from django.test import Client

from dashboard.models import AuditEntry
from queuecore import Job, Queue, Worker
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client: Client, queue: Queue) -> None:
    for url in ("/admin/queues/", f"/admin/queues/{queue.name}/", "/admin/queues/-/activity/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=")


def test_non_staff_and_staff_without_permission_are_refused(not_staff: Client,
                                                            staff_without_perms: Client,
                                                            queue: Queue) -> None:
    for c in (not_staff, staff_without_perms):
        assert c.get("/admin/queues/").status_code == 403
        assert c.get(f"/admin/queues/{queue.name}/").status_code == 403


def test_overview_shows_counts_and_server(operator: Client, filled: Queue) -> None:
    response = operator.get("/admin/queues/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Queues</h1>" in page
    assert filled.name in page
    assert 'data-state="prioritized">1<' in page and 'data-state="delayed">1<' in page
    assert "Valkey" in page or "Redis" in page
    assert "no workers" in page  # jobs wait and nobody runs them


def test_overview_discovers_queues_without_allow_list(operator: Client, filled: Queue,
                                                      settings: Any) -> None:
    settings.QUEUECORE_DASHBOARD = {"QUEUES": None}
    assert filled.name in operator.get("/admin/queues/").content.decode()


def test_queue_page_tabs_and_pagination(operator: Client, queue: Queue) -> None:
    ids = [queue.add("j", {"i": i}).id for i in range(7)]
    page1 = operator.get(f"/admin/queues/{queue.name}/?state=waiting").content.decode()
    assert f'id="job-{ids[-1]}"' in page1 and f'id="job-{ids[1]}"' not in page1
    assert "page 1 of 2" in page1
    page2 = operator.get(f"/admin/queues/{queue.name}/?state=waiting&page=2").content.decode()
    assert f'id="job-{ids[1]}"' in page2
    oldest = operator.get(f"/admin/queues/{queue.name}/?state=waiting&order=oldest")
    assert f'id="job-{ids[0]}"' in oldest.content.decode()
    assert operator.get(f"/admin/queues/{queue.name}/?state=bogus").status_code == 404
    goto = operator.get(f"/admin/queues/{queue.name}/?job={ids[3]}")
    assert goto["Location"] == f"/admin/queues/{queue.name}/jobs/{ids[3]}/"


def test_unlisted_queue_is_not_found(operator: Client) -> None:
    assert operator.get("/admin/queues/elsewhere/").status_code == 404


def test_job_page_escapes_data(operator: Client, queue: Queue) -> None:
    job = queue.add("<b>name</b>", {"html": "<script>alert(1)</script>"})
    job.log("<img src=x onerror=alert(2)>")
    page = operator.get(f"/admin/queues/{queue.name}/jobs/{job.id}/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "<b>name</b>" not in page
    assert operator.get(f"/admin/queues/{queue.name}/jobs/missing/").status_code == 404


def test_large_data_is_cut_on_the_page(operator: Client, queue: Queue) -> None:
    job = queue.add("big", {"blob": "x" * 3_000_000})
    page = operator.get(f"/admin/queues/{queue.name}/jobs/{job.id}/").content.decode()
    assert len(page) < 1_000_000 and "All of it (large)" in page
    raw = operator.get(f"/admin/queues/{queue.name}/jobs/{job.id}/raw/")
    assert len(json.loads(raw.content)["blob"]) == 3_000_000
    # lists never read the data at all
    listed = operator.get(f"/admin/queues/{queue.name}/?state=waiting").content.decode()
    assert len(listed) < 50_000


def test_failed_job_shows_reason_and_trace(operator: Client, queue: Queue, redis_url: str,
                                           run_worker: Any) -> None:
    async def fail(job: Job) -> None:
        raise ValueError("bad <input>")

    job = queue.add("f")
    run_worker(Worker(queue.name, fail, connection=redis_url))
    wait_for(lambda: job.get_state() == "failed")
    page = operator.get(f"/admin/queues/{queue.name}/jobs/{job.id}/").content.decode()
    assert "bad &lt;input&gt;" in page and "ValueError" in page
    listing = operator.get(f"/admin/queues/{queue.name}/?state=failed").content.decode()
    assert "bad &lt;input&gt;" in listing


def test_actions_need_post_csrf_and_permission(viewer: Client, operator: Client,
                                               queue: Queue, db: None,
                                               django_user_model: Any) -> None:
    url = f"/admin/queues/{queue.name}/actions/pause/"
    assert operator.get(url).status_code == 405
    assert viewer.post(url).status_code == 403
    assert not queue.is_paused()
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(django_user_model.objects.get(username="operator"))
    assert csrf_client.post(url).status_code == 403
    assert not queue.is_paused()


def test_read_only_setting_turns_actions_off(operator: Client, queue: Queue,
                                             settings: Any) -> None:
    settings.QUEUECORE_DASHBOARD = {**settings.QUEUECORE_DASHBOARD, "READ_ONLY": True}
    assert operator.post(f"/admin/queues/{queue.name}/actions/pause/").status_code == 403
    page = operator.get(f"/admin/queues/{queue.name}/").content.decode()
    assert "Obliterate" not in page and "Pause" not in page


def test_queue_actions_report_and_audit(operator: Client, queue: Queue,
                                        r: redis.Redis) -> None:
    base = f"/admin/queues/{queue.name}/actions"
    response = operator.post(f"{base}/pause/", follow=True)
    assert queue.is_paused() and f"Paused {queue.name}." in response.content.decode()
    operator.post(f"{base}/resume/")
    assert not queue.is_paused()
    for _ in range(3):
        queue.add("d", delay=60_000)
    response = operator.post(f"{base}/promote-all/", follow=True)
    assert "Promoted 3 delayed job(s)" in response.content.decode()
    response = operator.post(f"{base}/clean/", {"state": "wait", "grace": "0", "limit": "2"},
                             follow=True)
    assert "Removed 2 wait job(s)" in response.content.decode()
    response = operator.post(f"{base}/drain/", follow=True)
    assert "removed 1 waiting job(s)" in response.content.decode()
    bad = operator.post(f"{base}/clean/", {"state": "bogus"}, follow=True)
    assert "cannot clean" in bad.content.decode()
    refused = operator.post(f"{base}/obliterate/", {"confirm": "wrong"}, follow=True)
    assert "type the queue" in refused.content.decode()
    queue.add("x")
    gone = operator.post(f"{base}/obliterate/", {"confirm": queue.name})
    assert gone["Location"] == "/admin/queues/"
    assert r.keys(f"bull:{queue.name}:*") == []
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "username"))
    assert actions == [("pause", "operator"), ("resume", "operator"),
                       ("promote-all", "operator"), ("clean", "operator"),
                       ("drain", "operator"), ("obliterate", "operator")]
    clean = AuditEntry.objects.get(action="clean")
    assert len(clean.job_ids) == 2
    assert "clean" in operator.get("/admin/queues/-/activity/").content.decode()


def test_job_actions(operator: Client, queue: Queue, redis_url: str, run_worker: Any) -> None:
    base = f"/admin/queues/{queue.name}/jobs"
    delayed = queue.add("d", {"v": 1}, delay=60_000)
    operator.post(f"{base}/{delayed.id}/actions/change-delay/", {"delay": "120000"})
    assert delayed.get_state() == "delayed"
    operator.post(f"{base}/{delayed.id}/actions/promote/")
    assert delayed.get_state() == "waiting"
    operator.post(f"{base}/{delayed.id}/actions/change-priority/", {"priority": "4"})
    assert delayed.get_state() == "prioritized"
    bad = operator.post(f"{base}/{delayed.id}/actions/change-priority/",
                        {"priority": "99999999"}, follow=True)
    assert "priority must be between" in bad.content.decode()
    operator.post(f"{base}/{delayed.id}/actions/edit-data/", {"data": '{"v": 2}'})
    assert queue.get_job(delayed.id).data == {"v": 2}  # type: ignore[union-attr]
    not_json = operator.post(f"{base}/{delayed.id}/actions/edit-data/", {"data": "{oops"},
                             follow=True)
    assert "data must be valid JSON" in not_json.content.decode()
    copy = operator.post(f"{base}/{delayed.id}/actions/duplicate/")
    copy_id = copy["Location"].rstrip("/").split("/")[-1]
    assert queue.get_job(copy_id).data == {"v": 2}  # type: ignore[union-attr]
    operator.post(f"{base}/{copy_id}/actions/remove/")
    assert queue.get_job(copy_id) is None

    async def fail(job: Job) -> None:
        raise RuntimeError("nope")

    failing = queue.add("f", attempts=1)
    queue.remove(delayed.id)
    run_worker(Worker(queue.name, fail, connection=redis_url))
    wait_for(lambda: failing.get_state() == "failed")
    response = operator.post(f"{base}/{failing.id}/actions/retry/", follow=True)
    assert "moved from failed to waiting" in response.content.decode()


def test_job_page_draws_the_flow(operator: Client, queue: Queue, r: redis.Redis) -> None:
    parent = queue.add("parent")
    pending = queue.add("child-a")
    done = queue.add("child-b")
    grandchild = queue.add("grandchild")
    key = queue.keys.job
    r.sadd(key(parent.id) + ":dependencies", key(pending.id))
    r.hset(key(parent.id) + ":processed", key(done.id), '"ok"')
    r.zadd(key(pending.id) + ":unsuccessful", {key(grandchild.id): 1})
    for child in (pending, done):
        r.hset(key(child.id), mapping={"parentKey": key(parent.id), "parent": json.dumps(
            {"id": parent.id, "queueKey": queue.keys.qualified})})
    page = operator.get(f"/admin/queues/{queue.name}/jobs/{parent.id}/").content.decode()
    assert "<h2>Flow</h2>" in page
    assert f"/admin/queues/{queue.name}/jobs/{pending.id}/" in page
    assert f"/admin/queues/{queue.name}/jobs/{done.id}/" in page
    assert f"/admin/queues/{queue.name}/jobs/{grandchild.id}/" in page  # two levels down
    assert "pending" in page and "processed" in page and "failed" in page
    child_page = operator.get(f"/admin/queues/{queue.name}/jobs/{pending.id}/").content.decode()
    assert f"/admin/queues/{queue.name}/jobs/{parent.id}/" in child_page  # link up


def mask_card(job: dict[str, Any]) -> dict[str, Any]:
    data = dict(job["data"])
    if "card" in data:
        data["card"] = "**** " + data["card"][-4:]
    return {**job, "data": data}


def test_formatter_masks_sensitive_fields(operator: Client, queue: Queue,
                                          settings: Any) -> None:
    settings.QUEUECORE_DASHBOARD = {**settings.QUEUECORE_DASHBOARD,
                                    "FORMATTER": "tests.dashboard.test_views.mask_card"}
    job = queue.add("pay", {"card": "4111111111111111", "amount": 5})
    page = operator.get(f"/admin/queues/{queue.name}/jobs/{job.id}/").content.decode()
    assert "4111111111111111" not in page and "**** 1111" in page
    raw = operator.get(f"/admin/queues/{queue.name}/jobs/{job.id}/raw/").content.decode()
    assert "4111111111111111" not in raw
    assert "Edit data" not in page  # saving the masked text back would destroy the data


def test_database_url() -> None:
    from config.settings import database_from_url

    assert database_from_url("postgres://u:p%40ss@db:5433/queues") == {
        "ENGINE": "django.db.backends.postgresql", "NAME": "queues", "USER": "u",
        "PASSWORD": "p@ss", "HOST": "db", "PORT": "5433"}
    assert database_from_url("sqlite:////tmp/x.db")["NAME"] == "/tmp/x.db"
    with pytest.raises(ValueError, match="oracle"):
        database_from_url("oracle://x/y")


def test_latest_tab_shows_each_jobs_state(operator: Client, filled: Queue) -> None:
    page = operator.get(f"/admin/queues/{filled.name}/").content.decode()
    for state in ("waiting", "prioritized", "delayed"):
        assert f'<td class="state {state}">{state}</td>' in page


def test_action_returns_to_the_tab_it_came_from(operator: Client, queue: Queue) -> None:
    back = f"/admin/queues/{queue.name}/?state=completed"
    response = operator.post(f"/admin/queues/{queue.name}/actions/clean/",
                             {"state": "completed", "next": back})
    assert response["Location"] == back
    evil = operator.post(f"/admin/queues/{queue.name}/actions/clean/",
                         {"state": "completed", "next": "https://evil.example/"})
    assert evil["Location"] == f"/admin/queues/{queue.name}/"


def test_discovery_serves_the_last_list_and_refreshes_in_the_background(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from queuecore import Connection
    from queuecore import discovery as found

    conn = Connection(redis_url)
    prefix = "disc-test"
    first = Queue("first", connection=conn, prefix=prefix)
    first.add("a")
    assert found.discover(conn, prefix) == ["first"]  # the first call scans
    second = Queue("second", connection=conn, prefix=prefix)
    second.add("b")
    assert found.discover(conn, prefix) == ["first"]  # still fresh: no scan
    monkeypatch.setattr(found, "DISCOVERY_TTL_S", 0.0)
    assert found.discover(conn, prefix) == ["first"]  # stale: served, refresh started
    wait_for(lambda: found.discover(conn, prefix) == ["first", "second"], 5)
    monkeypatch.setattr(found, "DISCOVERY_TTL_S", 60.0)
    third = Queue("third", connection=conn, prefix=prefix)
    third.add("c")
    found.remember(conn, prefix, "third")
    found.remember(conn, prefix, "never-made")
    assert found.discover(conn, prefix) == ["first", "second", "third"]
    found.forget_discovered("second")
    assert found.discover(conn, prefix) == ["first", "third"]
    for q in (first, second, third):
        q.obliterate()


def test_flow_parent_in_waiting_children_tab_and_its_tree(operator: Client, queue: Queue,
                                                          redis_url: str) -> None:
    from queuecore import FlowProducer

    with FlowProducer(redis_url) as flows:
        tree = flows.add({"name": "ship-order", "queue_name": queue.name, "children": [
            {"name": "charge", "queue_name": queue.name},
            {"name": "reserve", "queue_name": queue.name}]})
    tab = operator.get(f"/admin/queues/{queue.name}/?state=waiting-children").content.decode()
    assert f"/admin/queues/{queue.name}/jobs/{tree.job.id}/" in tab
    page = operator.get(f"/admin/queues/{queue.name}/jobs/{tree.job.id}/").content.decode()
    assert "<h2>Flow</h2>" in page
    for child in tree.children:
        assert f"/admin/queues/{queue.name}/jobs/{child.job.id}/" in page


def test_cancel_a_running_job_from_its_page(operator: Client, queue: Queue, redis_url: str,
                                            run_worker: Any) -> None:
    import asyncio

    async def slow(job: Job) -> None:
        await asyncio.sleep(30)

    job = queue.add("slow")
    run_worker(Worker(queue.name, slow, connection=redis_url))
    wait_for(lambda: job.get_state() == "active")
    page = operator.get(f"/admin/queues/{queue.name}/jobs/{job.id}/").content.decode()
    assert "actions/cancel/" in page
    response = operator.post(f"/admin/queues/{queue.name}/jobs/{job.id}/actions/cancel/",
                             {"reason": "<b>stop</b>"}, follow=True)
    assert "Asked the worker running job" in response.content.decode()
    wait_for(lambda: job.get_state() == "failed")
    assert job.reload().failed_reason == "cancelled: <b>stop</b>"
    page = operator.get(f"/admin/queues/{queue.name}/jobs/{job.id}/").content.decode()
    assert "&lt;b&gt;stop&lt;/b&gt;" in page and "<b>stop</b>" not in page
    again = operator.post(f"/admin/queues/{queue.name}/jobs/{job.id}/actions/cancel/",
                          follow=True).content.decode()
    assert "only active jobs can be cancelled" in again
