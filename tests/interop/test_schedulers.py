"""Job schedulers shared with Node BullMQ 6.7.0: each side's schedulers fire in
the other's workers, each reads the other's, the hashes they write match, and
cron patterns give cron-parser's times."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from queuecore import Queue
from queuecore.cron import next_run
from queuecore.options import to_python
from queuecore.schedulers import JobScheduler
from tests.helpers import wait_for

from .helpers import NodeQueue

pytestmark = pytest.mark.interop

HOUR = 3_600_000


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def other_queue(redis_url: str) -> Iterator[Queue]:
    """A second queue, so that a Node and a queuecore worker each get one."""
    q = Queue(f"test-{uuid.uuid4().hex[:12]}", connection=redis_url)
    yield q
    q.obliterate(force=True)
    q.close()


def millis_of(job_id: str) -> int:
    return int(job_id.rsplit(":", 1)[1])


def job_hash(r: redis.Redis, queue: str, job_id: str) -> dict[str, Any]:
    raw: dict[str, Any] = r.hgetall(f"bull:{queue}:{job_id}")
    raw["opts"] = json.loads(raw["opts"])
    raw["data"] = json.loads(raw["data"])
    return raw


def scheduler_hash(r: redis.Redis, queue: str, scheduler_id: str) -> dict[str, Any]:
    raw: dict[str, Any] = r.hgetall(f"bull:{queue}:repeat:{scheduler_id}")
    for field in ("opts", "data"):
        if field in raw:
            raw[field] = json.loads(raw[field])
    return raw


def comparable(h: dict[str, Any], scheduler_id: str) -> dict[str, Any]:
    """An iteration hash with the id and the times of its making taken out
    (what differs between two schedulers made a few ms apart)."""
    h = json.loads(json.dumps(h))
    opts = h["opts"]
    assert h.pop("rjk") == scheduler_id == opts.pop("repeatJobKey")
    millis = millis_of(opts.pop("jobId"))
    assert opts["repeat"]["count"] >= 1
    for source in (h, opts):
        delay = int(source.pop("delay"))
        assert abs(delay - (millis - int(h["timestamp"]))) < 5000
    h.pop("timestamp"), opts.pop("timestamp")
    return h


def node_view(s: dict[str, Any]) -> dict[str, Any]:
    """Node's getJobScheduler(s) record in queuecore's JobScheduler terms."""
    template = s.get("template")
    if template and "opts" in template:
        template = {**template, "opts": to_python(template["opts"])}
    return {"id": s["key"], "name": s["name"], "next": s.get("next"),
            "iteration_count": s.get("iterationCount"), "pattern": s.get("pattern"),
            "every": s.get("every"), "tz": s.get("tz"), "limit": s.get("limit"),
            "start_date": s.get("startDate"), "end_date": s.get("endDate"),
            "offset": s.get("offset"), "template": template}


def qc_view(s: JobScheduler | None) -> dict[str, Any]:
    assert s is not None
    return {name: getattr(s, name) for name in JobScheduler.__dataclass_fields__}


# -- firing in the other side's workers ----------------------------------------------


def test_node_scheduler_fires_in_a_queuecore_worker(node_queue: NodeQueue, queue: Queue,
                                                    queue_name: str, r: redis.Redis,
                                                    qc_worker: Any) -> None:
    node_queue.op("upsertJobScheduler", id="every", repeat={"every": 400, "limit": 3},
                  template={"name": "tick", "data": {"from": "node"}})
    node_queue.op("upsertJobScheduler", id="cron",
                  repeat={"pattern": "* * * * * *", "tz": "America/New_York"},
                  template={"name": "cron"})
    seen: list[tuple[str, Any]] = []
    lock = threading.Lock()

    def processor(job: Any) -> str:
        with lock:
            seen.append((job.id, job.data))
        return job.id

    errors: list[Any] = []
    qc_worker(processor, on={"error": errors.append})
    wait_for(lambda: queue.get_job_counts("completed")["completed"] >= 6, timeout=10,
             what="iterations of both schedulers")
    with lock:
        every = [i for i, _ in seen if i.startswith("repeat:every:")]
        cron = [i for i, _ in seen if i.startswith("repeat:cron:")]
        datas = [d for i, d in seen if i.startswith("repeat:every:")]
    assert not errors
    assert len(every) == 3 and datas == [{"from": "node"}] * 3
    # on the 400 ms grid (a worker that starts late skips the slots it missed, as in BullMQ)
    assert all((millis_of(b) - millis_of(a)) % 400 == 0 and millis_of(b) > millis_of(a)
               for a, b in itertools.pairwise(every))
    assert len(cron) >= 3 and all(millis_of(i) % 1000 == 0 for i in cron)
    assert millis_of(cron[1]) - millis_of(cron[0]) == 1000
    time.sleep(0.6)
    # Node's limit holds in queuecore's worker; Node reads the counts queuecore left
    assert len([i for i, _ in seen if i.startswith("repeat:every:")]) == 3
    assert node_queue.op("getJobScheduler", id="every")["iterationCount"] == 3
    assert node_queue.op("getJobScheduler", id="cron")["iterationCount"] >= len(cron)


def test_queuecore_scheduler_fires_in_a_node_worker(node_queue: NodeQueue, queue: Queue,
                                                    queue_name: str, r: redis.Redis,
                                                    node_worker: Any) -> None:
    queue.upsert_job_scheduler("every", {"every": 400, "limit": 3},
                               {"name": "tick", "data": {"from": "queuecore"}})
    queue.upsert_job_scheduler("cron", {"pattern": "* * * * * *", "tz": "Europe/Paris"})
    worker = node_worker()
    wait_for(lambda: len(worker.events("completed")) >= 6, timeout=10,
             what="the Node worker to run iterations of both schedulers")
    time.sleep(0.6)
    ids = [m["id"] for m in worker.events("completed")]
    every = [i for i in ids if i.startswith("repeat:every:")]
    cron = [i for i in ids if i.startswith("repeat:cron:")]
    assert worker.events("error") == []
    assert len(every) == 3
    # on the 400 ms grid (a worker that starts late skips the slots it missed, as in BullMQ)
    assert all((millis_of(b) - millis_of(a)) % 400 == 0 and millis_of(b) > millis_of(a)
               for a, b in itertools.pairwise(every))
    assert {m["result"]["echo"]["from"] for m in worker.events("completed")
            if m["id"] in every} == {"queuecore"}
    assert len(cron) >= 3 and millis_of(cron[1]) - millis_of(cron[0]) == 1000
    assert queue.get_job_scheduler("every").iteration_count == 3  # type: ignore[union-attr]


@pytest.mark.parametrize("runner", ["node", "queuecore"])
def test_upsert_after_a_promoted_iteration_ran(runner: str, node_queue: NodeQueue,
                                               queue: Queue, queue_name: str,
                                               r: redis.Redis, node_worker: Any,
                                               qc_worker: Any) -> None:
    """A Node scheduler whose iteration was promoted and ran (in either side's
    worker): queuecore's upsert goes on from the next cron time, where Node's
    workers keep the schedule going."""
    pattern, tz = "0 7 * * *", "Europe/Amsterdam"
    first = node_queue.op("upsertJobScheduler", id="daily", repeat={"pattern": pattern,
                                                                    "tz": tz},
                          template={"name": "daily-report"})
    due = millis_of(first["id"])
    after = next_run(pattern, tz, due)
    assert node_queue.op("promote", id=first["id"]) is True
    if runner == "node":
        worker = node_worker()
    else:
        qc_worker(lambda job: "rows")
    wait_for(lambda: queue.get_job_counts("completed", "delayed") == {
        "completed": 1, "delayed": 1}, timeout=10, what="the promoted iteration to run")
    again = queue.upsert_job_scheduler("daily", {"pattern": pattern, "tz": tz},
                                       {"name": "daily-report"})
    assert again.id == f"repeat:daily:{after}"
    assert node_queue.op("getJobScheduler", id="daily")["next"] == after
    assert node_queue.op("getState", id=first["id"]) == "completed"
    assert node_queue.op("getState", id=again.id) == "delayed"
    assert r.zrange(f"bull:{queue_name}:delayed", 0, -1) == [again.id]
    if runner == "node":
        # and Node's worker runs that iteration and adds the one after it
        assert node_queue.op("promote", id=again.id) is True
        worker.wait_event("completed", again.id)
        wait_for(lambda: node_queue.op("getJobScheduler", id="daily")["next"]
                 == next_run(pattern, tz, after), timeout=10, what="Node's next iteration")
        assert worker.events("error") == []


# -- reading each other's schedulers ---------------------------------------------------


def test_getters_read_each_others_schedulers(node_queue: NodeQueue, queue: Queue) -> None:
    start, end = now_ms() + HOUR, now_ms() + 48 * HOUR
    queue.upsert_job_scheduler("qc-every", {"every": 5000, "limit": 7, "start_date": start,
                                            "end_date": end, "offset": 0},
                               {"name": "e", "data": {"k": [1, 2]},
                                "opts": {"attempts": 2, "keep_logs": 3, "priority": 4}})
    queue.upsert_job_scheduler("qc-cron", {"pattern": "0 30 9 * * 1-5", "tz": "Asia/Tokyo"})
    node_queue.op("upsertJobScheduler", id="node-every",
                  repeat={"every": 7000, "offset": 250, "endDate": end},
                  template={"name": "ne", "data": "text",
                            "opts": {"removeOnFail": 5, "keepLogs": 2}})
    node_queue.op("upsertJobScheduler", id="node-cron",
                  repeat={"pattern": "0 0 12 1 * *", "tz": "Europe/Paris", "limit": 4})
    node_all = node_queue.op("getJobSchedulers")
    ours = queue.get_job_schedulers()
    assert [s["key"] for s in node_all] == [s.id for s in ours]
    assert [node_view(s) for s in node_all] == [qc_view(s) for s in ours]
    assert node_queue.op("getJobSchedulers", asc=True)[0]["key"] == \
        queue.get_job_schedulers(asc=True)[0].id
    assert node_queue.op("getJobSchedulersCount") == queue.get_job_schedulers_count() == 4
    for sid in ("qc-every", "qc-cron", "node-every", "node-cron"):
        assert node_view(node_queue.op("getJobScheduler", id=sid)) == \
            qc_view(queue.get_job_scheduler(sid))
    # each side removes the other's (and its delayed iteration)
    assert node_queue.op("removeJobScheduler", id="qc-cron") is True
    assert queue.remove_job_scheduler("node-cron") is True
    assert node_queue.op("getJobScheduler", id="qc-cron") is None
    assert node_queue.op("getJobSchedulersCount") == 2
    assert queue.get_job_counts("delayed") == {"delayed": 2}


# -- the hashes ------------------------------------------------------------------------


def test_upserted_hashes_match_nodes(node_queue: NodeQueue, queue: Queue, queue_name: str,
                                     r: redis.Redis) -> None:
    start, end = now_ms() + HOUR, now_ms() + 30 * 24 * HOUR
    node_every = node_queue.op(
        "upsertJobScheduler", id="n-every",
        repeat={"every": 60_000, "startDate": start, "limit": 5},
        template={"name": "t", "data": {"a": [1, "x"]},
                  "opts": {"attempts": 3, "backoff": {"type": "fixed", "delay": 1000},
                           "removeOnComplete": 10, "priority": 2}})
    qc_every = queue.upsert_job_scheduler(
        "q-every", {"every": 60_000, "start_date": start, "limit": 5},
        {"name": "t", "data": {"a": [1, "x"]},
         "opts": {"attempts": 3, "backoff": {"type": "fixed", "delay": 1000},
                  "remove_on_complete": 10, "priority": 2}})
    node_cron = node_queue.op(
        "upsertJobScheduler", id="n-cron",
        repeat={"pattern": "0 0 9 * * 1-5", "tz": "America/New_York", "endDate": end},
        template={"name": "c", "opts": {"keepLogs": 5}})
    qc_cron = queue.upsert_job_scheduler(
        "q-cron", {"pattern": "0 0 9 * * 1-5", "tz": "America/New_York", "end_date": end},
        {"name": "c", "opts": {"keep_logs": 5}})
    for node_job, qc_job, kind in ((node_every, qc_every, "every"),
                                   (node_cron, qc_cron, "cron")):
        assert millis_of(node_job["id"]) == millis_of(qc_job.id)
        assert scheduler_hash(r, queue_name, f"n-{kind}") == \
            scheduler_hash(r, queue_name, f"q-{kind}")
        node_hash = job_hash(r, queue_name, node_job["id"])
        qc_hash = job_hash(r, queue_name, qc_job.id)
        assert set(node_hash) == set(qc_hash)
        assert comparable(node_hash, f"n-{kind}") == comparable(qc_hash, f"q-{kind}")


@pytest.mark.parametrize("maker", ["node", "queuecore"])
def test_next_iteration_hashes_match_nodes(maker: str, node_queue: NodeQueue, queue: Queue,
                                           other_queue: Queue, queue_name: str,
                                           r: redis.Redis, node_worker: Any,
                                           qc_worker: Any) -> None:
    """The same schedulers in two queues; a Node worker runs one queue's first
    iterations, a queuecore worker the other's: the next iterations match."""
    schedulers = [
        ("every", {"every": HOUR}, {"every": HOUR}),
        ("cron", {"pattern": "0 0 0 1 1 *", "tz": "Asia/Kolkata", "immediately": True,
                  "limit": 9},
         {"pattern": "0 0 0 1 1 *", "tz": "Asia/Kolkata", "immediately": True, "limit": 9}),
    ]
    template_node = {"name": "n", "data": {"d": 1},
                     "opts": {"attempts": 2, "backoff": 700, "removeOnComplete": 3}}
    template_qc = {"name": "n", "data": {"d": 1},
                   "opts": {"attempts": 2, "backoff": 700, "remove_on_complete": 3}}
    for q in (queue, other_queue):
        for sid, node_repeat, qc_repeat in schedulers:
            if maker == "node":
                NodeQueue(node_queue.redis_url, q.name).op(
                    "upsertJobScheduler", id=sid, repeat=node_repeat, template=template_node)
            else:
                q.upsert_job_scheduler(sid, qc_repeat, template_qc)
    node = node_worker()
    qc_worker(lambda job: None, queue_name=other_queue.name)
    for q in (queue, other_queue):
        wait_for(lambda q=q: q.get_job_counts("completed", "delayed") == {
            "completed": 2, "delayed": 2}, timeout=10, what=f"{q.name}: next iterations")
    assert node.events("error") == []
    by_node = {s.id: s for s in queue.get_job_schedulers()}
    by_qc = {s.id: s for s in other_queue.get_job_schedulers()}
    for sid, _, _ in schedulers:
        assert by_node[sid].iteration_count == by_qc[sid].iteration_count == 2
        node_next = f"repeat:{sid}:{by_node[sid].next}"
        qc_next = f"repeat:{sid}:{by_qc[sid].next}"
        if sid == "cron":  # both at the next 1 January in Kolkata
            assert node_next == qc_next
            assert by_qc[sid].next == next_run("0 0 0 1 1 *", "Asia/Kolkata", now_ms())
        node_hash = job_hash(r, queue.name, node_next)
        qc_hash = job_hash(r, other_queue.name, qc_next)
        assert set(node_hash) == set(qc_hash)
        assert node_hash["opts"]["repeat"]["count"] == 2
        assert comparable(node_hash, sid) == comparable(qc_hash, sid)


# -- cron ----------------------------------------------------------------------------------

CRON_CASES = [
    ("0 0 9 * * *", "America/New_York", "2026-03-07T12:00:00Z"),
    ("0 30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z"),
    ("0 0 * * * *", "America/New_York", "2026-03-08T05:30:00Z"),
    ("0 */15 * * * *", "America/New_York", "2026-11-01T04:50:00Z"),
    ("0 30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z"),
    ("*/20 59 1 * * *", "America/New_York", "2026-03-08T06:58:00Z"),
    ("15 45 2 * * 0", "Europe/London", "2026-03-28T00:00:00Z"),
    ("0 0 2 * * *", "Europe/London", "2026-10-24T00:00:00Z"),
    ("0 0 12 L * *", "Australia/Sydney", "2026-01-15T00:00:00Z"),
    ("0 9 * * 1-5", "Asia/Tokyo", "2026-02-27T00:00:00Z"),
    ("0 0 12 * * 5#2", None, "2026-01-01T00:00:00Z"),
    ("*/7 * * * * *", None, "2026-06-30T23:59:50Z"),
    ("@weekly", "Pacific/Auckland", "2026-04-01T00:00:00Z"),
]


def test_cron_times_are_cron_parsers(node_queue: NodeQueue) -> None:
    from datetime import datetime

    steps = []
    for pattern, tz, start in CRON_CASES:
        start_ms = int(datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp() * 1000)
        steps.append({"op": "cronNext", "pattern": pattern, "tz": tz or "UTC",
                      "starts": [start_ms], "runs": 6})
    node_results = node_queue.ops(steps)
    for (pattern, tz, _), step, node_runs in zip(CRON_CASES, steps, node_results, strict=True):
        assert not isinstance(node_runs, dict), f"{pattern}: {node_runs}"
        after = step["starts"][0]
        ours = []
        for _ in range(6):
            after = next_run(pattern, tz, after)  # type: ignore[assignment]
            ours.append(after)
        assert ours == node_runs[0], f"{pattern} in {tz}"
