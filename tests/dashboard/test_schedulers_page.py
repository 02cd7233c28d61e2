"""The schedulers page: every job scheduler with its schedule, next and last
run and run count; editing and removing need POST, CSRF and permission."""

from __future__ import annotations

from django.test import Client

from dashboard.models import AuditEntry
from queuecore import Queue
from tests.helpers import running_worker, wait_for


def test_lists_schedulers_with_next_and_last_runs(operator: Client, queue: Queue,
                                                  redis_url: str) -> None:
    queue.upsert_job_scheduler("nightly", {"pattern": "0 3 * * *", "tz": "Europe/Paris"},
                               {"name": "report", "data": {"kind": "<b>sales</b>"}})
    queue.upsert_job_scheduler("tick", {"every": 300}, {"name": "tick"})
    with running_worker(queue.name, lambda job: "ok", connection=redis_url):
        wait_for(lambda: (queue.get_job_scheduler("tick").iteration_count or 0) >= 3)
    page = operator.get("/admin/queues/-/schedulers/").content.decode()
    assert "nightly" in page and "<code>0 3 * * *</code> Europe/Paris" in page
    assert "every 300 ms" in page
    tick = queue.get_job_scheduler("tick")
    assert tick is not None and tick.next is not None
    assert f"/admin/queues/{queue.name}/jobs/repeat:tick:{tick.next}/" in page  # next run
    assert f"/admin/queues/{queue.name}/jobs/repeat:tick:{tick.next - 300}/" in page  # last
    assert "completed" in page


def test_edit_and_remove(operator: Client, queue: Queue) -> None:
    queue.upsert_job_scheduler("nightly", {"pattern": "0 3 * * *"}, {"name": "report",
                                                                    "data": {"x": 1}})
    base = f"/admin/queues/{queue.name}/schedulers/nightly/actions"
    bad = operator.post(f"{base}/edit/", {"pattern": "61 * * * *"}, follow=True)
    assert "invalid cron pattern" in bad.content.decode()
    assert queue.get_job_scheduler("nightly").pattern == "0 3 * * *"  # unchanged
    done = operator.post(f"{base}/edit/", {"pattern": "30 6 * * 1", "tz": "Asia/Tokyo"},
                         follow=True)
    assert "now runs pattern &#x27;30 6 * * 1&#x27;" in done.content.decode()
    edited = queue.get_job_scheduler("nightly")
    assert edited is not None and edited.pattern == "30 6 * * 1" and edited.tz == "Asia/Tokyo"
    assert edited.template == {"data": {"x": 1}}
    operator.post(f"{base}/remove/", follow=True)
    assert queue.get_job_scheduler("nightly") is None
    assert AuditEntry.objects.filter(action="remove-scheduler", queue=queue.name).exists()


def test_viewer_cannot_edit(viewer: Client, queue: Queue) -> None:
    queue.upsert_job_scheduler("nightly", {"pattern": "0 3 * * *"}, {"name": "report"})
    page = viewer.get("/admin/queues/-/schedulers/").content.decode()
    assert "nightly" in page and "actions/remove/" not in page
    response = viewer.post(f"/admin/queues/{queue.name}/schedulers/nightly/actions/remove/")
    assert response.status_code == 403
    assert queue.get_job_scheduler("nightly") is not None
