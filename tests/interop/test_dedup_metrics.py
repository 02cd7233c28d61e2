"""Deduplication and metrics shared with Node BullMQ 6.7.0: one deduplication
window whichever side adds, keys freed whichever side finishes, and metrics
written by either side's workers read the same by both."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import redis

from queuecore import Job, Queue
from tests.helpers import wait_for

from .helpers import NodeQueue

pytestmark = pytest.mark.interop
MINUTE = 60_000


def events(r: redis.Redis, queue: Queue, kind: str) -> list[dict[str, str]]:
    return [f for _, f in r.xrange(queue.keys["events"]) if f["event"] == kind]


def test_node_add_is_deduplicated_against_a_queuecore_add(queue: Queue, node_queue: NodeQueue,
                                                          r: redis.Redis) -> None:
    owner = queue.add("a", {"by": "qc"}, deduplication={"id": "d", "ttl": 60_000})
    node_id = node_queue.op("add", name="a", data={"by": "node"},
                            opts={"deduplication": {"id": "d", "ttl": 60_000}})
    assert node_id == owner.id
    assert node_queue.op("getDeduplicationJobId", id="d") == owner.id
    assert r.llen(queue.keys["wait"]) == 1
    assert events(r, queue, "deduplicated") == [{
        "event": "deduplicated", "jobId": owner.id, "deduplicationId": "d",
        "deduplicatedJobId": "2"}]
    # both sides store the same opts.de and deid
    node_job = node_queue.op("getJob", id=owner.id)
    assert node_job["opts"]["deduplication"] == {"id": "d", "ttl": 60_000}
    assert r.hget(queue.keys.job(owner.id), "deid") == "d"


def test_queuecore_add_is_deduplicated_against_a_node_add(queue: Queue, node_queue: NodeQueue,
                                                          r: redis.Redis) -> None:
    node_id = node_queue.op("add", name="a", data={"by": "node"},
                            opts={"deduplication": {"id": "d"}})
    again = queue.add("a", {"by": "qc"}, deduplication={"id": "d"})
    assert again.id == node_id
    assert queue.get_deduplication_job_id("d") == node_id
    stored = queue.get_job(node_id)
    assert stored is not None and stored.deduplication_id == "d"
    assert stored.opts["deduplication"] == {"id": "d"}
    assert json.loads(r.hget(queue.keys.job(node_id), "opts"))["de"] == {"id": "d"}
    assert events(r, queue, "deduplicated")[-1]["deduplicatedJobId"] == "2"
    assert node_queue.op("removeDeduplicationKey", id="d") == 1
    assert queue.add("a", deduplication={"id": "d"}).id == "3"


def test_replace_across_clients(queue: Queue, node_queue: NodeQueue, r: redis.Redis) -> None:
    opts = {"id": "deb", "replace": True, "ttl": 60_000}
    node_id = node_queue.op("add", name="a", data={"v": 1},
                            opts={"delay": 5000, "deduplication": opts})
    mine = queue.add("a", {"v": 2}, delay=5000, deduplication=opts)
    assert mine.id != node_id
    assert r.zrange(queue.keys["delayed"], 0, -1) == [mine.id]
    node_last = node_queue.op("add", name="a", data={"v": 3},
                              opts={"delay": 5000, "deduplication": opts})
    assert r.zrange(queue.keys["delayed"], 0, -1) == [node_last]
    assert r.exists(queue.keys.job(mine.id)) == 0
    assert [e["deduplicatedJobId"] for e in events(r, queue, "deduplicated")] == [
        node_id, mine.id]


def test_keys_freed_by_the_other_sides_worker(queue: Queue, node_queue: NodeQueue,
                                              node_worker, qc_worker, r: redis.Redis) -> None:
    # a queuecore add finished by Node, a Node add finished by queuecore
    mine = queue.add("echo", deduplication={"id": "qc"})
    node = node_worker()
    node.wait_event("completed", mine.id)
    wait_for(lambda: r.exists(queue.keys["de:qc"]) == 0, what="key freed by Node")
    node.close()
    node_id = node_queue.op("add", name="echo", opts={"deduplication": {"id": "nd"}})
    qc_worker(lambda job: "ok")
    wait_for(lambda: r.zscore(queue.keys["completed"], node_id) is not None, what="completed")
    assert r.exists(queue.keys["de:nd"]) == 0


def test_keep_last_if_active_across_clients(queue: Queue, node_queue: NodeQueue, node_worker,
                                            qc_worker, r: redis.Redis) -> None:
    opts = {"id": "kl", "keepLastIfActive": True}
    started = threading.Event()
    seen: list[Any] = []

    def work(job: Job) -> None:
        seen.append(job.data)
        if job.data.get("v") == 1:
            started.set()
            qc_worker.release.wait(10)

    # the owner runs in queuecore; Node's add is kept and requeued by queuecore
    owner = queue.add("a", {"v": 1}, deduplication={"id": "kl", "keep_last_if_active": True})
    qc = qc_worker(work)
    assert started.wait(10)
    assert node_queue.op("add", name="a", data={"v": 2}, opts={"deduplication": opts}) == owner.id
    assert r.hget(queue.keys["dn:kl"], "data") == '{"v":2}'
    qc_worker.release.set()
    wait_for(lambda: r.zcard(queue.keys["completed"]) == 2, what="owner and next completed")
    assert seen == [{"v": 1}, {"v": 2}]
    qc.close()
    # the owner runs in Node; queuecore's add is kept and requeued by Node
    node = node_worker()
    node_id = node_queue.op("add", name="block", data={"mode": "block"},
                            opts={"deduplication": opts})
    node.wait_event("active", node_id)
    kept = queue.add("echo", {"v": 3}, deduplication={"id": "kl", "keep_last_if_active": True})
    assert kept.id == node_id
    node.send("release")
    completed = node.wait_event("completed", count=2)
    assert completed[-1]["result"]["echo"] == {"v": 3}
    assert r.exists(queue.keys["dn:kl"], queue.keys["de:kl"]) == 0


def _metrics_both(queue: Queue, node_queue: NodeQueue, kind: str) -> tuple[dict[str, Any],
                                                                           dict[str, Any]]:
    mine = queue.get_metrics(kind)
    node = node_queue.op("getMetrics", type=kind)
    as_node = {"meta": {"count": mine["meta"]["count"], "prevTS": mine["meta"]["prev_ts"],
                        "prevCount": mine["meta"]["prev_count"]},
               "data": mine["data"], "count": mine["count"]}
    return as_node, node


def _move_back(r: redis.Redis, queue: Queue, kind: str, minutes: int) -> None:
    key = queue.keys["metrics:" + kind]
    r.hset(key, "prevTS", int(r.hget(key, "prevTS")) - minutes * MINUTE)


def test_node_reads_metrics_of_a_queuecore_worker(queue: Queue, node_queue: NodeQueue,
                                                  qc_worker, r: redis.Redis) -> None:
    def work(job: Job) -> str:
        if job.name == "fail":
            raise RuntimeError("no")
        return "ok"

    qc_worker(work, metrics={"max_data_points": 5})
    queue.add_bulk([{"name": "echo"}] * 3 + [{"name": "fail"}])
    wait_for(lambda: r.zcard(queue.keys["completed"]) == 3
             and r.zcard(queue.keys["failed"]) == 1, what="first jobs")
    _move_back(r, queue, "completed", 2)
    queue.add("echo")
    wait_for(lambda: r.zcard(queue.keys["completed"]) == 4, what="one more")
    for kind in ("completed", "failed"):
        mine, theirs = _metrics_both(queue, node_queue, kind)
        assert mine == theirs
    assert node_queue.op("getMetrics", type="failed")["meta"]["count"] == 1
    completed = node_queue.op("getMetrics", type="completed")
    assert completed["meta"]["count"] == 4 and completed["data"][-1] == 3


def test_queuecore_reads_metrics_of_a_node_worker(queue: Queue, node_queue: NodeQueue,
                                                  node_worker, r: redis.Redis) -> None:
    node = node_worker({"metrics": {"maxDataPoints": 5}})
    queue.add_bulk([{"name": "echo"}] * 2 + [{"name": "fail"}])
    node.wait_event("completed", count=2)
    node.wait_event("failed")
    _move_back(r, queue, "completed", 3)
    queue.add("echo")
    node.wait_event("completed", count=3)
    for kind in ("completed", "failed"):
        mine, theirs = _metrics_both(queue, node_queue, kind)
        assert mine == theirs
    metrics = queue.get_metrics("completed")
    assert metrics["meta"]["count"] == 3 and metrics["data"][-1] == 2
    assert metrics["count"] == len(metrics["data"]) >= 3
