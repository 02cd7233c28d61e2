"""Adding a job from the queue page: validated by queuecore, errors specific,
nothing added on any error, audited, add permission needed."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from dashboard.models import AuditEntry
from queuecore import Queue

pytestmark = pytest.mark.django_db


def add(client: Client, queue: Queue, **form: str) -> Any:
    return client.post(f"/admin/queues/{queue.name}/add/", {"name": "welcome", **form})


def test_form_adds_a_job_with_options(operator: Client, queue: Queue) -> None:
    form = operator.get(f"/admin/queues/{queue.name}/add/").content.decode()
    assert 'name="data"' in form and "Format JSON" in form and "json_editor.js" in form
    response = add(operator, queue, data='{"to": "ada@example.com"}', delay="60000",
                   priority="", attempts="3", job_id="welcome-ada",
                   options='{"backoff": {"type": "exponential", "delay": 1000}}')
    assert response.status_code == 302
    assert response["Location"] == f"/admin/queues/{queue.name}/jobs/welcome-ada/"
    job = queue.get_job("welcome-ada")
    assert job is not None and job.data == {"to": "ada@example.com"} and job.name == "welcome"
    assert job.get_state() == "delayed" and job.delay == 60000
    assert job.opts["attempts"] == 3
    assert job.opts["backoff"] == {"type": "exponential", "delay": 1000}
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.job_ids) == ("add", ["welcome-ada"])
    assert "Added job welcome-ada (welcome)" in operator.get(response["Location"]
                                                             ).content.decode()


@pytest.mark.parametrize(("form", "error"), [
    ({"data": "{oops"}, "data is not valid JSON: Expecting property name enclosed in double "
     "quotes at line 1, column 2"),
    ({"options": "[1]"}, "options must be a JSON object"),
    ({"options": "{\"attempts\": "}, "options is not valid JSON"),
    ({"options": '{"removeOnComplete": true}'},
     "unknown job option &#x27;removeOnComplete&#x27;; queuecore spells BullMQ&#x27;s"),
    ({"priority": "99999999"}, "priority must be between 0 and 2,097,151"),
    ({"attempts": "0"}, "attempts must be at least 1"),
    ({"delay": "soon"}, "delay must be a whole number, not &#x27;soon&#x27;"),
    ({"delay": "5", "options": '{"delay": 6}'}, "delay is given both as a field and in the"),
    ({"job_id": "42"}, "looks like an integer"),
    ({"name": " "}, "the job needs a name"),
])
def test_bad_input_names_the_problem_and_adds_nothing(operator: Client, queue: Queue,
                                                      form: dict[str, str], error: str) -> None:
    response = add(operator, queue, **form)
    assert response.status_code == 400
    page = response.content.decode()
    assert error in page and "Nothing was added." in page
    for field, value in form.items():  # what was typed comes back
        if field not in ("name",) and value.strip():
            assert value.replace('"', "&quot;") in page or value in page
    assert queue.get_job_counts("waiting", "delayed", "prioritized") == {
        "waiting": 0, "delayed": 0, "prioritized": 0}
    assert not AuditEntry.objects.exists()


def test_an_existing_job_id_is_refused(operator: Client, queue: Queue) -> None:
    queue.add("first", {"v": 1}, job_id="only-one")
    response = add(operator, queue, job_id="only-one", data='{"v": 2}')
    assert response.status_code == 400
    assert "a job with id &#x27;only-one&#x27; already exists" in response.content.decode()
    assert queue.get_job("only-one").data == {"v": 1}


def test_data_is_escaped_when_the_form_comes_back(operator: Client, queue: Queue) -> None:
    response = add(operator, queue, data='{"x": "</textarea><script>alert(1)</script>"',
                   name="<b>n</b>")
    page = response.content.decode()
    assert "<script>alert(1)</script>" not in page and "<b>n</b>" not in page
    assert "&lt;/textarea&gt;&lt;script&gt;" in page


def test_add_needs_its_permission_post_and_csrf(viewer: Client, queue: Queue, db: None,
                                                django_user_model: Any) -> None:
    assert add(viewer, queue).status_code == 403
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(django_user_model.objects.create_user(
        "su", password="pw", is_staff=True, is_superuser=True))
    assert add(csrf_client, queue).status_code == 403
    assert queue.get_job_counts("waiting")["waiting"] == 0
    page = csrf_client.get(f"/admin/queues/{queue.name}/").content.decode()
    assert f'href="/admin/queues/{queue.name}/add/"' in page
