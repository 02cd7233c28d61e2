"""4. Counts, job lists and single jobs agree between Node BullMQ and queuecore
in every state: waiting, active, delayed, prioritized, completed, failed, paused."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
import redis

from queuecore import Overview, Queue
from queuecore.reads import SUMMARY_STATES
from tests.helpers import wait_for

from .compare import assert_same_job
from .helpers import NodeQueue, queuecore_processor

pytestmark = pytest.mark.interop

ALL_STATES = ["waiting", "active", "delayed", "prioritized", "completed", "failed", "paused",
              "waiting-children"]
TYPE_SETS: list[list[str]] = [
    *[[s] for s in ALL_STATES[:7]],
    ["completed", "failed"],
    ["waiting", "prioritized", "delayed"],
    ["active", "waiting"],
    [],  # the default: every state
]
RANGES = [(0, -1), (0, 0), (0, 1), (1, 2), (1, -1), (0, 4), (2, 3)]
LISTS = {"waiting": "wait", "active": "active", "paused": "paused"}


def build_all_states(consumer: str, queue: Queue, node_queue: NodeQueue, node_worker: Any,
                     qc_worker: Any) -> dict[str, list[str]]:
    """Jobs in every state, added by both sides; one active job blocks the
    consumer (concurrency 1). Returns the ids per state, in adding order."""
    ids: dict[str, list[str]] = {}
    finished = node_queue.ops([
        {"op": "add", "name": "echo", "data": {"i": 1}},
        {"op": "add", "name": "fail", "data": {"message": "n1"}},
        {"op": "add", "name": "echo", "data": {"i": 2}},
    ])
    finished += [queue.add("echo", {"i": 3}).id, queue.add("fail", {"message": "q1"}).id]
    ids["completed"] = [finished[0], finished[2], finished[3]]
    ids["failed"] = [finished[1], finished[4]]
    if consumer == "node":
        node_worker({"concurrency": 1})
    else:
        qc_worker(queuecore_processor(qc_worker.release), concurrency=1)
    wait_for(lambda: queue.get_job_counts("completed", "failed") ==
               {"completed": 3, "failed": 2}, what="the finished jobs")
    ids["active"] = [node_queue.op("add", name="block", data={})]
    wait_for(lambda: queue.get_job_counts("active")["active"] == 1, what="an active job")
    ids["waiting"] = [
        node_queue.op("add", name="echo", data={"w": 1}),
        queue.add("echo", {"w": 2}).id,
        node_queue.op("add", name="echo", data={"w": 3}, opts={"lifo": True}),
        queue.add("echo", {"w": 4}, job_id="qc-waiting").id,
    ]
    ids["prioritized"] = [
        queue.add("echo", {"p": 5}, priority=5).id,
        node_queue.op("add", name="echo", data={"p": 1}, opts={"priority": 1}),
        queue.add("echo", {"p": 5}, priority=5).id,
    ]
    ids["delayed"] = [
        node_queue.op("add", name="echo", data={"d": 60}, opts={"delay": 60_000}),
        queue.add("echo", {"d": 30}, delay=30_000).id,
        node_queue.op("add", name="echo", data={"d": 45}, opts={"delay": 45_000}),
    ]
    return ids


def compare_everything(queue: Queue, node_queue: NodeQueue, ids: dict[str, list[str]]) -> None:
    counts = queue.get_job_counts(*ALL_STATES)
    cases = [(types, start, end, asc) for types, (start, end), asc
             in itertools.product(TYPE_SETS, RANGES, (True, False))]
    steps: list[dict[str, Any]] = [
        {"op": "getJobCounts", "types": []},
        {"op": "getJobCounts", "types": ALL_STATES},
        {"op": "count"},
        *[{"op": "getJobs", "types": t, "start": s, "end": e, "asc": a}
          for t, s, e, a in cases],
    ]
    all_ids = [i for group in ids.values() for i in group]
    steps += [{"op": "getJob", "id": i} for i in all_ids]
    results = node_queue.ops(steps)
    node_default, node_all, node_count = results[:3]
    assert node_default == queue.get_job_counts()
    assert node_all == counts
    assert node_count == queue.count()
    for (types, start, end, asc), node_ids in zip(cases, results[3:3 + len(cases)],
                                                  strict=True):
        qc_ids = [j.id for j in queue.get_jobs(types or None, start, end, asc)]
        assert qc_ids == node_ids, f"getJobs({types}, {start}, {end}, asc={asc})"
    for job_id, node_job in zip(all_ids, results[3 + len(cases):], strict=True):
        assert_same_job(node_job, queue.get_job(job_id))


@pytest.mark.parametrize("consumer", ["queuecore", "node"])
def test_every_state_agrees(consumer: str, queue: Queue, node_queue: NodeQueue,
                            node_worker: Any, qc_worker: Any) -> None:
    ids = build_all_states(consumer, queue, node_queue, node_worker, qc_worker)
    expected_counts = {"waiting": 4, "active": 1, "delayed": 3, "prioritized": 3,
                       "completed": 3, "failed": 2, "paused": 0, "waiting-children": 0}
    assert queue.get_job_counts(*ALL_STATES) == expected_counts
    # the orders BullMQ defines, checked on queuecore's side (Node's must agree below)
    w = ids["waiting"]
    assert [j.id for j in queue.get_jobs("waiting", asc=True)] == [w[2], w[0], w[1], w[3]]
    p = ids["prioritized"]
    assert [j.id for j in queue.get_jobs("prioritized", asc=True)] == [p[1], p[0], p[2]]
    d = ids["delayed"]
    assert [j.id for j in queue.get_jobs("delayed", asc=True)] == [d[1], d[2], d[0]]
    # finished jobs come out most recent first by default
    newest_failed = queue.get_jobs("failed")[0]
    assert newest_failed.finished_on == max(
        j.finished_on for j in queue.get_jobs("failed"))  # type: ignore[type-var]
    states = {i: s for s, group in ids.items() for i in group}
    for job_id, state in states.items():
        job = queue.get_job(job_id)
        assert job is not None and job.get_state() == state
    compare_everything(queue, node_queue, ids)


def test_get_jobs_asc_slice_past_the_end_of_a_list(queue: Queue, node_queue: NodeQueue) -> None:
    for i in range(3):
        queue.add("echo", {"i": i})
    cases = [(3, 5), (5, 9), (3, -1), (4, 4)]
    node = node_queue.ops([{"op": "getJobs", "types": ["waiting"], "start": s, "end": e,
                            "asc": True} for s, e in cases])
    assert node == [[], [], [], []]
    for (start, end), node_ids in zip(cases, node, strict=True):
        qc_ids = [j.id for j in queue.get_jobs("waiting", start, end, asc=True)]
        assert qc_ids == node_ids, f"getJobs(['waiting'], {start}, {end}, asc=True)"


def test_get_jobs_backfills_missing_hashes(queue: Queue, node_queue: NodeQueue,
                                           r: redis.Redis) -> None:
    jobs = [queue.add("echo", {"i": i}) for i in range(4)]
    for job in jobs[:2]:
        r.zadd(queue.keys["completed"], {job.id: 1000 + int(job.id)})
        r.lrem(queue.keys["wait"], 0, job.id)
    # an id listed in a state whose hash has vanished (e.g. removed mid-read)
    r.delete(queue.keys.job(jobs[3].id))
    node = node_queue.ops([
        {"op": "getJobs", "types": ["waiting"], "start": 0, "end": 0, "asc": False},
        {"op": "getJobs", "types": ["completed"], "start": 0, "end": 1, "asc": True},
    ])
    assert node[0] == [jobs[2].id]
    assert [j.id for j in queue.get_jobs("waiting", 0, 0)] == node[0]
    assert [j.id for j in queue.get_jobs("completed", 0, 1, asc=True)] == node[1]


@pytest.mark.parametrize("pauser", ["node", "queuecore"])
@pytest.mark.parametrize("consumer", ["queuecore", "node"])
def test_paused_queue(pauser: str, consumer: str, queue: Queue, node_queue: NodeQueue,
                      node_worker: Any, qc_worker: Any) -> None:
    if consumer == "node":
        node_worker()
    else:
        qc_worker(queuecore_processor(qc_worker.release))
    if pauser == "node":
        node_queue.op("pause")
    else:
        queue.pause()
    assert queue.is_paused() is True
    assert node_queue.op("isPaused") is True
    assert queue.get_meta()["paused"] == "1"

    waiting = [node_queue.op("add", name="echo", data={"n": 1}),
               queue.add("echo", {"q": 1}).id,
               node_queue.op("add", name="echo", data={"n": 2}, opts={"lifo": True})]
    prioritized = queue.add("echo", {"p": 2}, priority=2).id
    soon = queue.add("echo", {"soon": True}, delay=100).id
    # promotion happens while paused (the job lands in wait, unprocessed)
    wait_for(lambda: queue.get_job(soon).get_state() == "waiting",  # type: ignore[union-attr]
               timeout=5, what="the delayed job to be promoted")
    time.sleep(0.3)
    expected = {"waiting": 4, "active": 0, "prioritized": 1, "completed": 0, "paused": 0}
    assert queue.get_job_counts(*expected) == expected
    node_results = node_queue.ops([
        {"op": "getJobCounts", "types": list(expected)},
        {"op": "getJobs", "types": ["waiting"], "asc": True},
        {"op": "getJobs", "types": ["paused"], "asc": True},
        *[{"op": "getState", "id": i} for i in [*waiting, prioritized, soon]],
    ])
    assert node_results[0] == expected
    assert node_results[1] == [j.id for j in queue.get_jobs("waiting", asc=True)]
    assert node_results[1] == [waiting[2], waiting[0], waiting[1], soon]
    assert node_results[2] == []
    assert node_results[3:] == ["waiting"] * 3 + ["prioritized", "waiting"]

    if pauser == "node":
        queue.resume()
    else:
        node_queue.op("resume")
    assert queue.is_paused() is False
    assert node_queue.op("isPaused") is False
    assert "paused" not in queue.get_meta()
    wait_for(lambda: queue.get_job_counts("completed")["completed"] == 5,
               what="the jobs to run after resume")


def test_read_side_sees_node_queues_as_node_does(queue: Queue, node_queue: NodeQueue,
                                                 node_worker: Any, qc_worker: Any) -> None:
    """The engine's read side (summaries, states of many ids, failure
    summaries, workers, scheduler runs) reads a queue Node BullMQ wrote and
    runs exactly as Node's own getters do."""
    ids = build_all_states("node", queue, node_queue, node_worker, qc_worker)
    node_queue.op("upsertJobScheduler", id="tick", repeat={"every": 60_000},
                  template={"name": "echo", "data": {}})
    all_ids = [i for group in ids.values() for i in group]
    counts, workers, failed, *rest = node_queue.ops([
        {"op": "getJobCounts", "types": list(SUMMARY_STATES)},
        {"op": "getWorkers"},
        {"op": "getJobs", "types": ["failed"]},
        {"op": "getJobSchedulers"},
        *[{"op": "getState", "id": i} for i in all_ids],
        *[{"op": "getJob", "id": i} for i in ids["failed"]],
    ])
    (scheduler,), node_states = rest[0], rest[1:1 + len(all_ids)]
    node_failed_jobs = rest[1 + len(all_ids):]
    summary = Overview(queue.connection, queue.prefix).summaries([queue.name])[0]
    assert summary.counts == counts and summary.broken_keys == []
    assert summary.workers == len(workers) >= 1
    assert queue.get_states(all_ids) == dict(zip(all_ids, node_states, strict=True))
    summaries = queue.get_failure_summaries()
    assert [s["id"] for s in summaries] == failed
    reasons = {j["id"]: j["failedReason"] for j in node_failed_jobs}
    assert {s["id"]: s["failed_reason"] for s in summaries} == reasons
    (run,) = queue.get_scheduler_runs()
    assert run.scheduler.id == scheduler["key"] and run.scheduler.next == scheduler["next"]
    assert run.next_state == node_queue.op("getState", id=run.next_job_id)
    found = Overview(queue.connection, queue.prefix).workers([queue.name])
    assert found is not None
    assert sorted(w.client_name for w in found[queue.name]) == sorted(
        w["rawname"] for w in workers)
