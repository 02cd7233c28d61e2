"""3. QueueEvents across implementations: Node's QueueEvents sees what
queuecore produces, queuecore's QueueEvents sees what Node produces."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from queuecore import Job, Queue, QueueEvents
from tests.helpers import wait_for

from .helpers import NodeProcess, NodeQueue

pytestmark = pytest.mark.interop


def of_job(events: list[dict[str, Any]], job_id: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("jobId") == job_id]


def names(events: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in events]


def test_node_queue_events_see_queuecore(queue: Queue, redis_url: str, node_events: Any,
                                         qc_worker: Any) -> None:
    listener: NodeProcess = node_events()
    before = int(time.time() * 1000)
    ok = queue.add("ok", {"progress": [25, {"done": 2}]})
    bad = queue.add("bad", {})
    retried = queue.add("retried", {}, attempts=2, backoff={"type": "fixed", "delay": 200})
    later = queue.add("later", {}, delay=200)

    def processor(job: Job) -> Any:
        if job.name == "ok":
            for value in job.data["progress"]:
                job.update_progress(value)
            return {"result": [1, 2, 3], "text": "fine"}
        if job.name == "bad":
            raise RuntimeError("bad job")
        if job.name == "retried" and job.attempts_made == 0:
            raise RuntimeError("retry me")
        return None

    qc_worker(processor)
    listener.wait_event("completed", count=3)
    listener.wait_event("failed")
    listener.wait_event("drained")
    events = [m for m in listener.messages if m["event"] != "__ready__"]

    for job in (ok, bad, retried, later):
        added = [e for e in of_job(events, job.id) if e["event"] == "added"]
        assert [e["name"] for e in added] == [job.name]

    assert names(of_job(events, ok.id)) == ["added", "waiting", "active", "progress",
                                            "progress", "completed"]
    waiting, active, p1, p2, completed = of_job(events, ok.id)[1:]
    assert "prev" not in waiting
    assert active["prev"] == "waiting"
    assert p1["data"] == 25 and p2["data"] == {"done": 2}
    assert completed["returnvalue"] == {"result": [1, 2, 3], "text": "fine"}
    assert completed["prev"] == "active"

    assert names(of_job(events, bad.id)) == ["added", "waiting", "active", "failed",
                                             "retries-exhausted"]
    failed = of_job(events, bad.id)[3]
    assert failed["failedReason"] == "bad job"
    assert failed["prev"] == "active"
    assert of_job(events, bad.id)[4]["attemptsMade"] == "1"

    # a failed attempt with a backoff is "delayed", not "failed"
    assert names(of_job(events, retried.id)) == ["added", "waiting", "active", "delayed",
                                                 "waiting", "active", "completed"]
    backoff = of_job(events, retried.id)[3]
    assert isinstance(backoff["delay"], int)
    assert backoff["delay"] >= before + 200  # the due time, not a duration
    assert of_job(events, retried.id)[4]["prev"] == "delayed"
    assert of_job(events, retried.id)[6]["returnvalue"] is None

    assert names(of_job(events, later.id)) == ["added", "delayed", "waiting", "active",
                                               "completed"]
    added_delayed = of_job(events, later.id)[1]
    stored = queue.get_job(later.id)
    assert stored is not None
    assert added_delayed["delay"] == stored.timestamp + 200

    # the stream ids are increasing, as Node delivered them
    ids = [tuple(map(int, e["eventId"].split("-"))) for e in events]
    assert ids == sorted(ids)


class Collector:
    """queuecore QueueEvents in a thread, collecting every event."""

    def __init__(self, queue_name: str, redis_url: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.completed_callbacks: list[dict[str, Any]] = []
        self.queue_events = QueueEvents(queue_name, connection=redis_url,
                                        last_event_id="0-0")
        self.queue_events.on("*", self.events.append)
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = self.queue_events.start()

    def close(self) -> None:
        self.queue_events.close()
        if self.thread is not None:
            self.thread.join(5)


@pytest.fixture
def collector(queue_name: str, redis_url: str, queue: Queue) -> Any:
    collected = Collector(queue_name, redis_url)
    yield collected
    collected.close()


def test_queuecore_queue_events_see_node(queue: Queue, node_queue: NodeQueue,
                                         node_worker: Any, collector: Collector) -> None:
    collector.start()
    before = int(time.time() * 1000)
    ok, bad, retried, later = node_queue.ops([
        {"op": "add", "name": "progress", "data": {"progress": [40, {"phase": "b"}]}},
        {"op": "add", "name": "fail", "data": {"message": "node says no"}},
        {"op": "add", "name": "flaky", "data": {},
         "opts": {"attempts": 2, "backoff": {"type": "fixed", "delay": 200}}},
        {"op": "add", "name": "echo", "data": {"x": 1}, "opts": {"delay": 200}},
    ])
    per_job: dict[str, list[dict[str, Any]]] = {}
    collector.queue_events.on(f"completed:{ok}", per_job.setdefault(ok, []).append)
    node_worker()
    wait_for(lambda: len([e for e in collector.events if e["event"] == "completed"]) == 3
               and any(e["event"] == "failed" for e in collector.events),
               what="queuecore QueueEvents to see 3 completed and 1 failed")
    events = list(collector.events)

    for job_id, name in ((ok, "progress"), (bad, "fail"), (retried, "flaky"),
                         (later, "echo")):
        added = [e for e in of_job(events, job_id) if e["event"] == "added"]
        assert [e["name"] for e in added] == [name]

    assert names(of_job(events, ok)) == ["added", "waiting", "active", "progress",
                                         "progress", "completed"]
    _, _, active, p1, p2, completed = of_job(events, ok)
    assert active["prev"] == "waiting"
    assert p1["data"] == 40 and p2["data"] == {"phase": "b"}
    assert completed["returnvalue"] == {"echo": {"progress": [40, {"phase": "b"}]},
                                        "by": "node", "attemptsMade": 0}
    assert per_job[ok] and per_job[ok][0]["id"] == completed["id"]

    failed = [e for e in of_job(events, bad) if e["event"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["failedReason"] == "node says no"
    assert failed[0]["prev"] == "active"

    assert names(of_job(events, retried)) == ["added", "waiting", "active", "delayed",
                                              "waiting", "active", "completed"]
    backoff = of_job(events, retried)[3]
    assert isinstance(backoff["delay"], int) and backoff["delay"] >= before + 200

    assert names(of_job(events, later))[:2] == ["added", "delayed"]
    stored = queue.get_job(later)
    assert stored is not None
    assert of_job(events, later)[1]["delay"] == stored.timestamp + 200
    assert all("id" in e and "event" in e for e in events)


def test_cleaned_event(queue: Queue, node_queue: NodeQueue, node_events: Any) -> None:
    listener: NodeProcess = node_events()
    ids = [queue.add("echo", {"i": i}).id for i in range(2)]
    assert sorted(queue.clean(0, 0, "wait")) == sorted(ids)
    cleaned = listener.wait_event("cleaned")
    assert cleaned[0]["count"] == "2"
    ids = [node_queue.op("add", name="echo", data={"i": i}) for i in range(3)]
    assert sorted(node_queue.op("clean", grace=0, limit=0, type="wait")) == sorted(ids)
    counts = [e["count"] for e in listener.wait_event("cleaned", count=2)]
    assert counts == ["2", "3"]


def test_cleaned_event_when_nothing_is_removed(queue: Queue, node_queue: NodeQueue,
                                               node_events: Any) -> None:
    listener: NodeProcess = node_events()
    queue.add("echo", {})
    assert node_queue.op("clean", grace=60_000, limit=0, type="wait") == []
    assert queue.clean(60_000, 0, "wait") == []
    node_queue.op("add", name="marker", data={})  # an event after both cleans
    listener.wait_event("added", count=2)
    assert [e["count"] for e in listener.events("cleaned")] == ["0", "0"]
