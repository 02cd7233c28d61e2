"""The workers page: every live worker of each queue, from CLIENT LIST, with
what runworker-style names tell (host, pid, concurrency), and a warning for
queues with jobs waiting and nobody to run them."""

from __future__ import annotations

import os
import socket
from typing import Any

from django.test import Client

from queuecore import Queue
from tests.helpers import running_worker, wait_for


def test_lists_live_workers_with_host_pid_and_concurrency(operator: Client, queue: Queue,
                                                         redis_url: str) -> None:
    name = f"{socket.gethostname()}:{os.getpid()}:3"
    with running_worker(queue.name, lambda job: None, connection=redis_url, name=name,
                        concurrency=3):
        wait_for(lambda: queue.get_workers())
        page = operator.get("/admin/queues/-/workers/").content.decode()
    assert queue.name in page
    assert "queuecore" in page and socket.gethostname() in page
    assert f"<td>{os.getpid()}</td>" in page and "<td>3</td>" in page
    assert "s ago" in page


def test_warns_about_waiting_jobs_without_workers(operator: Client, queue: Queue) -> None:
    queue.add("nobody-runs-me")
    page = operator.get("/admin/queues/-/workers/").content.decode()
    assert "No live workers." in page
    assert "No workers on" in page and "1 job(s) waiting" in page


def test_needs_a_staff_login(client: Client, queue: Queue, db: Any) -> None:
    response = client.get("/admin/queues/-/workers/")
    assert response.status_code == 302 and "/login/" in response["Location"]
