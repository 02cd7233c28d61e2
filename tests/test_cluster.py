"""queuecore on a real three-master Redis Cluster (loopback, started per module).

Every queue uses the prefix ``{bull}``: the hash tag puts all of a queue's keys
in one slot, which the Lua scripts need.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from queuecore import Job, JobFailedError, Overview, Queue, QueueCoreError, UnrecoverableError

from .cluster import LocalCluster
from .helpers import Recorder, WorkerProcess, running_worker, wait_for

pytestmark = pytest.mark.cluster
PREFIX = "{bull}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path_factory.mktemp("cluster")) as started:
        yield started


@pytest.fixture
def name() -> str:
    return f"cl-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def cq(cluster: LocalCluster, name: str) -> Iterator[Queue]:
    queue = Queue(name, connection=cluster.url, prefix=PREFIX)
    yield queue
    queue.obliterate(force=True)
    queue.close()


@pytest.fixture
def rc(cluster: LocalCluster) -> Iterator[redis.RedisCluster]:
    client = redis.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port,
                                decode_responses=True)
    yield client
    client.close()


def keys_by_node(cluster: LocalCluster, name: str) -> dict[int, list[str]]:
    """Every key of the queue, per node port (nodes without any are left out)."""
    found: dict[int, list[str]] = {}
    for node, client in zip(cluster.nodes, cluster.clients(), strict=True):
        try:
            keys = list(client.scan_iter(match=f"{PREFIX}:{name}*", count=1000))
        finally:
            client.close()
        if keys:
            found[node.port] = sorted(keys)
    return found


def assert_one_slot(cluster: LocalCluster, rc: redis.RedisCluster, name: str,
                    expect: tuple[str, ...] = ()) -> list[str]:
    """All the queue's keys are on one node and in the slot of the ``{bull}`` tag."""
    found = keys_by_node(cluster, name)
    assert len(found) == 1, f"keys of {name} spread over nodes: {found}"
    keys = next(iter(found.values()))
    tag_slot = rc.keyslot(PREFIX)
    slots = {key: rc.keyslot(key) for key in keys}
    assert set(slots.values()) == {tag_slot}, slots
    for suffix in expect:
        assert f"{PREFIX}:{name}:{suffix}" in keys, (suffix, keys)
    return keys


def events(rc: redis.RedisCluster, name: str) -> list[dict[str, str]]:
    return [fields for _id, fields in rc.xrange(f"{PREFIX}:{name}:events", "-", "+")]


def test_cluster_is_up(cluster: LocalCluster, rc: redis.RedisCluster) -> None:
    assert len(cluster.nodes) == 3
    for client in cluster.clients():
        try:
            info = client.execute_command("CLUSTER", "INFO")
            text = info if isinstance(info, str) else "\n".join(f"{k}:{v}" for k, v in
                                                                   info.items())
            assert "cluster_state:ok" in text
            assert "cluster_known_nodes:3" in text
        finally:
            client.close()
    masters = [n for n in rc.get_nodes() if n.server_type == "primary"]
    assert len(masters) == 3


def test_add_plain_delayed_prioritized_bulk(cluster: LocalCluster, rc: redis.RedisCluster,
                                            cq: Queue, name: str) -> None:
    plain = cq.add("plain", {"n": 1})
    delayed = cq.add("later", {"n": 2}, delay=60_000)
    urgent = cq.add("urgent", {"n": 3}, priority=5)
    bulk = cq.add_bulk([{"name": "bulk", "data": {"i": i}} for i in range(3)]
                       + [{"name": "bulk-later", "data": {"i": 3}, "opts": {"delay": 60_000}},
                          {"name": "bulk-prio", "data": {"i": 4}, "opts": {"priority": 2}}])
    ids = [plain.id, delayed.id, urgent.id, *(j.id for j in bulk)]
    assert len(set(ids)) == 8
    assert ids == [str(i) for i in range(1, 9)]

    counts = cq.get_job_counts()
    assert counts == {"active": 0, "completed": 0, "delayed": 2, "failed": 0,
                      "prioritized": 2, "waiting": 4, "waiting-children": 0}
    assert cq.count() == 8

    got = cq.get_job(plain.id)
    assert got is not None and got.name == "plain" and got.data == {"n": 1}
    got = cq.get_job(delayed.id)
    assert got is not None and got.delay == 60_000 and got.opts["delay"] == 60_000
    got = cq.get_job(urgent.id)
    assert got is not None and got.priority == 5
    assert cq.get_job("404") is None

    waiting = cq.get_jobs("waiting")
    assert sorted(j.id for j in waiting) == sorted([plain.id, *(j.id for j in bulk[:3])])
    # newest first by default, next-to-run first with asc
    assert [j.id for j in waiting] == [bulk[2].id, bulk[1].id, bulk[0].id, plain.id]
    assert [j.id for j in cq.get_jobs("waiting", asc=True)] == \
        [plain.id, bulk[0].id, bulk[1].id, bulk[2].id]
    assert {j.id for j in cq.get_jobs("delayed")} == {delayed.id, bulk[3].id}
    assert [j.id for j in cq.get_jobs("prioritized", asc=True)] == [bulk[4].id, urgent.id]
    assert sorted(j.id for j in cq.get_jobs()) == sorted(ids)
    assert [j.id for j in cq.get_jobs("waiting", start=0, end=1, asc=True)] == \
        [plain.id, bulk[0].id]

    states = {job.id: job.get_state() for job in [plain, delayed, urgent, *bulk]}
    assert states[plain.id] == "waiting"
    assert states[delayed.id] == "delayed"
    assert states[urgent.id] == "prioritized"

    names = [e["event"] for e in events(rc, name)]
    assert names.count("added") == 8
    assert_one_slot(cluster, rc, name,
                    expect=("wait", "delayed", "prioritized", "meta", "id", "events", "1"))


def test_worker_processes_every_kind(cluster: LocalCluster, rc: redis.RedisCluster,
                                     cq: Queue, name: str) -> None:
    plain = cq.add("plain", {"x": 1})
    low = cq.add("low", {"x": 2}, priority=10)
    high = cq.add("high", {"x": 3}, priority=1)
    later = cq.add("later", {"x": 4}, delay=400)
    bulk = cq.add_bulk([{"name": "bulk", "data": {"x": 10 + i}} for i in range(5)])
    total = 4 + len(bulk)
    order: list[str] = []
    lock = threading.Lock()

    def process(job: Job) -> Any:
        with lock:
            order.append(job.id)
        return {"double": job.data["x"] * 2, "name": job.name}

    with running_worker(name, process, cluster.url, prefix=PREFIX) as worker:
        rec = Recorder(worker, "completed", "failed", "error")
        wait_for(lambda: cq.get_job_counts("completed")["completed"] == total, 20,
                 what="every job completed")
        assert rec["failed"] == []

    assert len(order) == total and len(set(order)) == total
    # waiting jobs in FIFO order, before the prioritized ones (high before low)
    assert order[:6] == [plain.id, *(j.id for j in bulk)]
    assert order.index(high.id) < order.index(low.id)
    for job in [plain, low, high, later, *bulk]:
        done = cq.get_job(job.id)
        assert done is not None
        assert done.returnvalue == {"double": job.data["x"] * 2, "name": job.name}
        assert done.finished_on is not None and done.processed_on is not None
        assert done.attempts_made == 1
    done_later = cq.get_job(later.id)
    assert done_later is not None
    assert done_later.processed_on >= later.timestamp + 400  # type: ignore[operator]
    assert cq.get_job_counts() == {"active": 0, "completed": total, "delayed": 0, "failed": 0,
                                   "prioritized": 0, "waiting": 0, "waiting-children": 0}
    completed_events = [e["jobId"] for e in events(rc, name) if e["event"] == "completed"]
    assert sorted(completed_events) == sorted(order)
    assert_one_slot(cluster, rc, name, expect=("completed", "events", "meta", "id"))


def test_retry_with_exponential_backoff(cluster: LocalCluster, rc: redis.RedisCluster,
                                        cq: Queue, name: str) -> None:
    job = cq.add("flaky", {"v": 1}, attempts=3, backoff={"type": "exponential", "delay": 250})
    starts: list[float] = []

    def process(j: Job) -> str:
        starts.append(time.monotonic())
        if j.attempts_made < 2:
            raise RuntimeError(f"transient failure {j.attempts_made}")
        return "ok"

    with running_worker(name, process, cluster.url, prefix=PREFIX) as worker:
        rec = Recorder(worker, "failed", "completed")
        wait_for(lambda: job.get_state() == "completed", 20, what="flaky job completed")
    assert len(starts) == 3
    # exponential: 250 ms after the first failure, 500 ms after the second
    assert starts[1] - starts[0] >= 0.24
    assert starts[2] - starts[1] >= 0.49
    assert len(rec["failed"]) == 2
    done = cq.get_job(job.id)
    assert done is not None
    assert done.returnvalue == "ok"
    assert done.attempts_made == 3
    assert len(done.stacktrace) == 2
    assert "transient failure 1" in done.stacktrace[-1]
    names = [e["event"] for e in events(rc, name) if e.get("jobId") == job.id]
    assert names.count("delayed") == 2
    assert names[-1] == "completed"
    assert_one_slot(cluster, rc, name)


def test_fixed_backoff_then_failed(cluster: LocalCluster, rc: redis.RedisCluster,
                                   cq: Queue, name: str) -> None:
    doomed = cq.add("doomed", {}, attempts=2, backoff=300)
    fatal = cq.add("fatal", {}, attempts=5, backoff=300)
    starts: dict[str, list[float]] = {doomed.id: [], fatal.id: []}

    def process(j: Job) -> None:
        starts[j.id].append(time.monotonic())
        if j.name == "fatal":
            raise UnrecoverableError("give up now")
        raise ValueError(f"boom {j.attempts_made}")

    with running_worker(name, process, cluster.url, prefix=PREFIX):
        wait_for(lambda: cq.get_job_counts("failed")["failed"] == 2, 20, what="two failed jobs")
    assert len(starts[doomed.id]) == 2
    assert starts[doomed.id][1] - starts[doomed.id][0] >= 0.29
    assert len(starts[fatal.id]) == 1

    failed = {j.id: j for j in cq.get_jobs("failed")}
    assert set(failed) == {doomed.id, fatal.id}
    assert failed[doomed.id].failed_reason == "boom 1"
    assert failed[doomed.id].attempts_made == 2
    assert len(failed[doomed.id].stacktrace) == 2
    assert "ValueError: boom 0" in failed[doomed.id].stacktrace[0]
    assert failed[fatal.id].failed_reason == "give up now"
    assert failed[fatal.id].attempts_made == 1
    assert doomed.get_state() == "failed"

    evs = events(rc, name)
    assert any(e["event"] == "retries-exhausted" and e["jobId"] == doomed.id for e in evs)
    assert any(e["event"] == "failed" and e["jobId"] == fatal.id
               and e["failedReason"] == "give up now" for e in evs)

    # a failed job can be run again
    cq.retry_jobs("failed")
    assert cq.get_job_counts("failed", "waiting") == {"failed": 0, "waiting": 2}
    assert_one_slot(cluster, rc, name)


def test_stalled_job_is_recovered(cluster: LocalCluster, rc: redis.RedisCluster,
                                  cq: Queue, name: str) -> None:
    job = cq.add("survivor", {"k": "v"})
    with WorkerProcess(cluster.url, name, prefix=PREFIX, mode="block", lock_duration=1000,
                       stalled_interval=1000) as proc:
        proc.wait_line(f"active {job.id}", timeout=20)
        assert job.get_state() == "active"
        assert rc.exists(f"{PREFIX}:{name}:{job.id}:lock")
        proc.kill()
    assert job.get_state() == "active"  # nobody knows yet

    def process(j: Job) -> dict[str, Any]:
        return {"recovered": j.data}

    started = time.monotonic()
    with running_worker(name, process, cluster.url, prefix=PREFIX, lock_duration=1000,
                        stalled_interval=1000) as worker:
        rec = Recorder(worker, "stalled", "completed")
        wait_for(lambda: job.get_state() == "completed", 20, what="stalled job completed")
    assert time.monotonic() - started < 15
    assert [args[0] for args in rec["stalled"]] == [job.id]
    done = cq.get_job(job.id)
    assert done is not None
    assert done.returnvalue == {"recovered": {"k": "v"}}
    assert done.stalled_counter == 1
    assert done.attempts_started == 2
    assert done.attempts_made == 1
    evs = [e for e in events(rc, name) if e.get("jobId") == job.id]
    assert [e["event"] for e in evs if e["event"] in ("stalled", "completed")] == \
        ["stalled", "completed"]
    assert_one_slot(cluster, rc, name)


def test_get_jobs_counts_and_clean(cluster: LocalCluster, rc: redis.RedisCluster,
                                   cq: Queue, name: str) -> None:
    jobs = cq.add_bulk([{"name": "n", "data": {"fail": i % 3 == 0, "i": i}} for i in range(6)])

    def process(j: Job) -> int:
        if j.data["fail"]:
            raise RuntimeError(f"no {j.data['i']}")
        return j.data["i"]

    with running_worker(name, process, cluster.url, prefix=PREFIX):
        wait_for(lambda: sum(cq.get_job_counts("completed", "failed").values()) == 6, 20,
                 what="six finished jobs")
    assert cq.get_job_counts("completed", "failed") == {"completed": 4, "failed": 2}
    completed = cq.get_jobs("completed")
    assert sorted(j.returnvalue for j in completed) == [1, 2, 4, 5]
    assert sorted(j.failed_reason for j in cq.get_jobs("failed")) == ["no 0", "no 3"]
    assert len(cq.get_jobs(["completed", "failed"], start=0, end=0)) == 2

    # not old enough: nothing removed
    assert cq.clean(60_000, state="completed") == []
    removed = cq.clean(0, limit=3, state="completed")
    assert len(removed) == 3
    assert cq.get_job_counts("completed")["completed"] == 1
    removed += cq.clean(0, state="completed")
    assert sorted(removed) == sorted(j.id for j in jobs if not j.data["fail"])
    failed_removed = cq.clean(0, state="failed")
    assert sorted(failed_removed) == sorted(j.id for j in jobs if j.data["fail"])
    for job in jobs:
        assert cq.get_job(job.id) is None
    assert cq.get_job_counts("completed", "failed") == {"completed": 0, "failed": 0}

    waiting = cq.add_bulk([{"name": "w"}, {"name": "w"}])
    assert sorted(cq.clean(0, state="wait")) == sorted(j.id for j in waiting)
    assert cq.get_job_counts("waiting")["waiting"] == 0
    # one per clean, the one that removed nothing included (as BullMQ)
    assert [e["event"] for e in events(rc, name)].count("cleaned") == 5
    assert_one_slot(cluster, rc, name)


def test_obliterate(cluster: LocalCluster, rc: redis.RedisCluster, cq: Queue,
                    name: str) -> None:
    release = threading.Event()

    def process(j: Job) -> str:
        j.log(f"running {j.id}")
        if j.name == "slow":
            assert release.wait(20)
        if j.name == "bad":
            raise RuntimeError("bad job")
        return "done"

    good = cq.add("good", {})
    bad = cq.add("bad", {})
    with running_worker(name, process, cluster.url, prefix=PREFIX) as worker:
        wait_for(lambda: cq.get_job_counts("completed", "failed") ==
                 {"completed": 1, "failed": 1}, 20, what="a completed and a failed job")
        slow = cq.add("slow", {})
        wait_for(lambda: slow.get_state() == "active", 20, what="slow job active")
        cq.add("waiting", {}, priority=0)
        cq.add("later", {}, delay=60_000)
        cq.add("prio", {}, priority=3)
        keys = assert_one_slot(cluster, rc, name)
        assert f"{PREFIX}:{name}:{good.id}:logs" in keys
        assert f"{PREFIX}:{name}:{slow.id}:lock" in keys
        assert f"{PREFIX}:{name}:{bad.id}" in keys

        with pytest.raises(QueueCoreError, match="active jobs"):
            cq.obliterate()
        assert cq.get_job(good.id) is not None  # nothing was deleted
        release.set()
        wait_for(lambda: slow.get_state() == "completed", 20, what="slow job completed")
        worker.close(timeout=20)
    cq.obliterate()
    assert keys_by_node(cluster, name) == {}
    assert cq.get_job_counts() == {s: 0 for s in cq.get_job_counts()}


def test_wait_until_finished(cluster: LocalCluster, rc: redis.RedisCluster, cq: Queue,
                             name: str) -> None:
    def process(j: Job) -> Any:
        time.sleep(0.3)
        if j.name == "bad":
            raise RuntimeError("nope")
        return {"got": j.data}

    with running_worker(name, process, cluster.url, prefix=PREFIX):
        good = cq.add("good", {"a": 1})
        assert good.wait_until_finished(timeout=15) == {"got": {"a": 1}}
        bad = cq.add("bad", {})
        with pytest.raises(JobFailedError, match="nope"):
            bad.wait_until_finished(timeout=15)
    assert_one_slot(cluster, rc, name)


def test_flow_across_queues_sharing_the_hash_tag(cluster: LocalCluster, name: str,
                                                 rc: redis.RedisCluster) -> None:
    from queuecore import FlowProducer

    with FlowProducer(cluster.url, prefix=PREFIX) as flows:
        tree = flows.add({"name": "order", "queue_name": f"{name}-orders", "children": [
            {"name": "pay", "queue_name": f"{name}-payments"},
            {"name": "ship", "queue_name": f"{name}-shipping"}]})
    queues = [Queue(f"{name}-{q}", connection=cluster.url, prefix=PREFIX)
              for q in ("orders", "payments", "shipping")]
    try:
        with running_worker(f"{name}-payments", lambda job: "paid", connection=cluster.url,
                            prefix=PREFIX), \
                running_worker(f"{name}-shipping", lambda job: "sent", connection=cluster.url,
                               prefix=PREFIX), \
                running_worker(f"{name}-orders", lambda job: job.get_children_values(),
                               connection=cluster.url, prefix=PREFIX):
            wait_for(lambda: queues[0].get_job_counts("completed")["completed"] == 1)
        parent = queues[0].get_job(tree.job.id)
        assert parent is not None
        assert sorted(parent.returnvalue.values()) == ["paid", "sent"]
        # every key of the three queues is in one slot: the prefix's hash tag
        slots = {rc.keyslot(k) for k in rc.scan_iter(match=f"{PREFIX}:{name}-*", count=1000,
                                                        target_nodes=redis.RedisCluster.ALL_NODES)}
        assert len(slots) == 1
    finally:
        for q in queues:
            q.obliterate(force=True)
            q.close()


def test_read_side_on_a_cluster(cluster: LocalCluster, cq: Queue, name: str) -> None:
    waiting = cq.add("w")
    delayed = cq.add("d", delay=60_000)
    overview = Overview(cluster.url, PREFIX)
    (summary,) = overview.summaries([name])
    assert summary.counts["waiting"] == 1 and summary.counts["delayed"] == 1
    assert summary.broken_keys == []
    assert cq.exists() and cq.get_states([waiting.id, delayed.id, "x"]) == {
        waiting.id: "waiting", delayed.id: "delayed", "x": "unknown"}
    assert cq.get_job_tree(waiting.id).children == []
    assert overview.workers([name]) is not None and overview.server_info().version
    overview.close()
