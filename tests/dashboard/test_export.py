"""Export of a queue tab or a search, streamed, as JSON lines or CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.http import StreamingHttpResponse
from django.test import AsyncClient, Client

from dashboard import export
from queuecore import Job, Queue, Worker
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def fetch(client: Client, url: str) -> tuple[Any, list[bytes]]:
    """GET through the ASGI handler (as Daphne serves it); the response and
    the pieces its body streamed in."""

    async def go() -> tuple[Any, list[bytes]]:
        async_client = AsyncClient()
        async_client.cookies = client.cookies  # the same logged-in session
        response = await async_client.get(url)
        pieces = [piece async for piece in response.streaming_content] \
            if response.streaming else [response.content]
        return response, pieces

    return async_to_sync(go)()


def mask_card(job: dict[str, Any]) -> dict[str, Any]:
    data = dict(job["data"])
    if "card" in data:
        data["card"] = "**** " + data["card"][-4:]
    return {**job, "data": data}


@pytest.fixture
def payments(queue: Queue, run_worker: Any, redis_url: str) -> Queue:
    """1 completed, 2 failed (declined), 3 waiting with a formula-looking name."""
    queue.add("pay", {"card": "4111111111111111", "amount": 5})
    queue.add("pay", {"card": "5500000000000004", "amount": 7, "decline": True}, attempts=1)

    async def process(job: Job) -> dict[str, Any]:
        if job.data.get("decline"):
            raise RuntimeError("card declined")
        return {"charged": job.data["amount"]}

    worker = run_worker(Worker(queue.name, process, connection=redis_url))
    wait_for(lambda: sum(queue.get_job_counts("completed", "failed").values()) == 2, 10,
             what="the payments to be processed")
    worker.close(timeout=10)
    queue.add("=HYPERLINK(\"http://evil\")", {"card": "340000000000009", "note": "été"})
    return queue


def test_json_lines_of_every_job(operator: Client, payments: Queue) -> None:
    response, pieces = fetch(operator, f"/admin/queues/{payments.name}/export/?format=jsonl")
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse) and response.is_async
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{payments.name}-all.jsonl"'
    lines = [json.loads(line) for line in b"".join(pieces).decode().splitlines()]
    by_id = {line["id"]: line for line in lines}
    assert sorted(by_id) == ["1", "2", "3"]
    assert by_id["1"]["state"] == "completed" and by_id["1"]["returnvalue"] == {"charged": 5}
    assert by_id["1"]["data"] == {"card": "4111111111111111", "amount": 5}
    assert by_id["1"]["finished"].endswith("+00:00") and by_id["1"]["attempts_made"] == 1
    assert by_id["2"]["state"] == "failed" and by_id["2"]["failed_reason"] == "card declined"
    assert by_id["3"]["state"] == "waiting" and by_id["3"]["data"]["note"] == "été"
    assert list(by_id["3"]) == list(export.COLUMNS)


def test_csv_of_one_tab(viewer: Client, payments: Queue) -> None:
    response, pieces = fetch(viewer, f"/admin/queues/{payments.name}/export/"
                                     "?state=waiting&format=csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].endswith(f'"{payments.name}-waiting.csv"')
    rows = list(csv.reader(io.StringIO(b"".join(pieces).decode())))
    assert rows[0] == list(export.COLUMNS)
    assert len(rows) == 2  # the waiting job only
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["id"] == "3" and row["state"] == "waiting"
    assert row["name"] == "'=HYPERLINK(\"http://evil\")"  # not a formula in a spreadsheet
    assert json.loads(row["data"]) == {"card": "340000000000009", "note": "été"}


def test_export_of_a_search(operator: Client, payments: Queue) -> None:
    _, pieces = fetch(operator, f"/admin/queues/{payments.name}/export/"
                                "?kind=reason&q=declined&state=all&format=jsonl")
    lines = [json.loads(line) for line in b"".join(pieces).decode().splitlines()]
    assert [line["id"] for line in lines] == ["2"]
    _, pieces = fetch(operator, f"/admin/queues/{payments.name}/export/"
                                "?kind=data&q=amount%3D5&format=csv")
    rows = list(csv.reader(io.StringIO(b"".join(pieces).decode())))
    assert [r[0] for r in rows[1:]] == ["1"]


def test_export_masks_data_with_the_formatter(operator: Client, payments: Queue,
                                              settings: Any) -> None:
    settings.QUEUECORE_DASHBOARD = {**settings.QUEUECORE_DASHBOARD,
                                    "FORMATTER": "tests.dashboard.test_export.mask_card"}
    for fmt in ("jsonl", "csv"):
        _, pieces = fetch(operator, f"/admin/queues/{payments.name}/export/?format={fmt}")
        body = b"".join(pieces).decode()
        for card in ("4111111111111111", "5500000000000004", "340000000000009"):
            assert card not in body
        assert "**** 1111" in body and "**** 0004" in body and "**** 0009" in body


def test_export_streams_chunk_by_chunk(operator: Client, queue: Queue,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "CHUNK", 100)
    queue.add_bulk([{"name": "n", "data": {"i": i}} for i in range(450)])
    _, pieces = fetch(operator, f"/admin/queues/{queue.name}/export/?state=waiting&format=csv")
    # the header, then one piece per chunk read: never the whole export at once
    assert [piece.count(b"\n") for piece in pieces] == [1, 100, 100, 100, 100, 50]
    ids = [line.split(b",")[0] for line in b"".join(pieces).splitlines()[1:]]
    assert sorted(int(i) for i in ids) == list(range(1, 451))  # each job once


def test_export_needs_the_view_permission(client: Client, staff_without_perms: Client,
                                          not_staff: Client, queue: Queue) -> None:
    url = f"/admin/queues/{queue.name}/export/?format=csv"
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert staff_without_perms.get(url).status_code == 403
    assert not_staff.get(url).status_code == 403


@pytest.mark.parametrize(("query", "message"), [
    ("format=xml", "format must be jsonl or csv, not 'xml'"),
    ("state=finished", "unknown job state 'finished'"),
    ("kind=name&q=", "the search text is empty"),
])
def test_bad_export_requests_are_refused(operator: Client, queue: Queue, query: str,
                                         message: str) -> None:
    response = operator.get(f"/admin/queues/{queue.name}/export/?{query}")
    assert response.status_code == 400 and message in response.content.decode()


@pytest.mark.parametrize("formula", ["=1+1", "@SUM(A1)", "+cmd", "-2+3", "\tx", "\rx"])
def test_csv_escapes_formulas_in_every_column(viewer: Client, queue: Queue,
                                              formula: str) -> None:
    """A formula may lead any cell a job's writer controls, the id included."""
    job = queue.add(formula, {"v": 1}, job_id=f"{formula}id")
    job.update_progress(formula)
    _, pieces = fetch(viewer, f"/admin/queues/{queue.name}/export/?state=waiting&format=csv")
    rows = list(csv.reader(io.StringIO(b"".join(pieces).decode(), newline="")))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["id"] == f"'{formula}id"
    assert row["name"] == f"'{formula}"
    assert row["progress"] == f"'{formula}"
    for cell in rows[1]:  # no cell of the row starts a formula
        assert not cell.startswith(export.FORMULA_START), cell
