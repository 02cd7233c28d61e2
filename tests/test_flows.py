"""Flows against a real Redis: a parent waits in waiting-children until its
children (in other queues too) finish, and each failure policy does what
BullMQ's does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from queuecore import FlowProducer, Job, Queue, QueueCoreError
from tests.helpers import running_worker, wait_for


@pytest.fixture
def names(redis_url: str) -> Iterator[dict[str, str]]:
    tag = uuid.uuid4().hex[:8]
    chosen = {k: f"{k}-{tag}" for k in ("orders", "payments", "inventory", "notifications")}
    yield chosen
    for name in chosen.values():
        q = Queue(name, redis_url)
        q.obliterate(force=True)
        q.close()


@pytest.fixture
def flows(redis_url: str) -> Iterator[FlowProducer]:
    producer = FlowProducer(redis_url)
    yield producer
    producer.close()


def order_flow(names: dict[str, str], **child_opts: Any) -> dict[str, Any]:
    """The guide's order example: payment, inventory and notification children."""
    return {"name": "place-order", "queue_name": names["orders"], "data": {"order": 7},
            "children": [
                {"name": "charge", "queue_name": names["payments"], "data": {"amount": 30},
                 "opts": dict(child_opts)},
                {"name": "reserve", "queue_name": names["inventory"], "data": {"sku": "A1"}},
                {"name": "email", "queue_name": names["notifications"], "data": {"to": "x"}},
            ]}


def state(redis_url: str, queue_name: str, job_id: str) -> str:
    q = Queue(queue_name, redis_url)
    try:
        job = q.get_job(job_id)
        assert job is not None
        return job.get_state()
    finally:
        q.close()


def test_parent_waits_for_children_in_other_queues(flows: FlowProducer, names: dict[str, str],
                                                   redis_url: str, r: redis.Redis) -> None:
    tree = flows.add(order_flow(names))
    parent = tree.job
    assert len(tree.children) == 3
    assert state(redis_url, names["orders"], parent.id) == "waiting-children"
    assert r.scard(parent.key + ":dependencies") == 3
    child = tree.children[0].job
    assert child.parent == {"id": parent.id, "queueKey": f"bull:{names['orders']}"}
    assert r.hget(child.key, "parentKey") == parent.key

    seen: dict[str, Any] = {}

    def child_proc(job: Job) -> dict[str, Any]:
        return {"done": job.name}

    def parent_proc(job: Job) -> str:
        seen["values"] = job.get_children_values()
        seen["counts"] = job.get_dependencies_count()
        return "shipped"

    with running_worker(names["payments"], child_proc, connection=redis_url), \
            running_worker(names["inventory"], child_proc, connection=redis_url), \
            running_worker(names["notifications"], child_proc, connection=redis_url), \
            running_worker(names["orders"], parent_proc, connection=redis_url):
        wait_for(lambda: state(redis_url, names["orders"], parent.id) == "completed")
    assert seen["values"] == {
        n.job.key: {"done": n.job.name} for n in tree.children}
    assert seen["counts"] == {"processed": 3, "unprocessed": 0, "ignored": 0, "failed": 0}
    events = [f for _, f in r.xrange(f"bull:{names['orders']}:events")]
    assert {"event": "waiting", "jobId": parent.id, "prev": "waiting-children"} in events


def test_parent_not_released_until_last_child(flows: FlowProducer, names: dict[str, str],
                                              redis_url: str) -> None:
    tree = flows.add(order_flow(names))
    with running_worker(names["payments"], lambda job: 1, connection=redis_url):
        wait_for(lambda: state(redis_url, names["payments"], tree.children[0].job.id)
                 == "completed")
    assert state(redis_url, names["orders"], tree.job.id) == "waiting-children"
    deps = tree.job.get_dependencies()
    assert set(deps["unprocessed"]) == {n.job.key for n in tree.children[1:]}
    assert deps["processed"] == {tree.children[0].job.key: 1}


def test_get_flow_reads_the_tree_back(flows: FlowProducer, names: dict[str, str]) -> None:
    tree = flows.add({**order_flow(names), "children": [
        {"name": "charge", "queue_name": names["payments"], "children": [
            {"name": "fraud-check", "queue_name": names["payments"]}]},
        {"name": "reserve", "queue_name": names["inventory"]}]})
    back = flows.get_flow(tree.job.id, names["orders"])
    assert back is not None
    assert back.job.name == "place-order"
    assert sorted(n.job.name for n in back.children) == ["charge", "reserve"]
    charge = next(n for n in back.children if n.job.name == "charge")
    assert [n.job.name for n in charge.children] == ["fraud-check"]
    assert charge.job.get_state() == "waiting-children"
    assert flows.get_flow("nope", names["orders"]) is None


def run_failing_child(names: dict[str, str], redis_url: str, tree: Any) -> None:
    def fail(job: Job) -> None:
        raise RuntimeError("card declined")

    child = tree.children[0].job
    with running_worker(names["payments"], fail, connection=redis_url):
        wait_for(lambda: state(redis_url, names["payments"], child.id) == "failed")


def test_fail_parent_on_failure(flows: FlowProducer, names: dict[str, str],
                                redis_url: str, r: redis.Redis) -> None:
    tree = flows.add(order_flow(names, fail_parent_on_failure=True))
    run_failing_child(names, redis_url, tree)
    parent = tree.job
    assert r.hget(parent.key, "defa") == f"child {tree.children[0].job.key} failed"
    assert state(redis_url, names["orders"], parent.id) == "waiting"
    ran: list[str] = []
    with running_worker(names["orders"], lambda job: ran.append(job.id),
                        connection=redis_url):
        wait_for(lambda: state(redis_url, names["orders"], parent.id) == "failed")
    assert ran == []  # failed at once, without running
    assert parent.get_dependencies()["failed"] == [tree.children[0].job.key]


def test_continue_parent_on_failure_releases_at_once(flows: FlowProducer,
                                                     names: dict[str, str],
                                                     redis_url: str) -> None:
    tree = flows.add(order_flow(names, continue_parent_on_failure=True))
    run_failing_child(names, redis_url, tree)
    assert state(redis_url, names["orders"], tree.job.id) == "waiting"
    assert tree.job.get_ignored_children_failures() == {
        tree.children[0].job.key: "card declined"}
    # two children still pending: completing the parent fails it, as in BullMQ
    with running_worker(names["orders"], lambda job: "ok", connection=redis_url):
        wait_for(lambda: state(redis_url, names["orders"], tree.job.id) == "failed")
    failed = Queue(names["orders"], redis_url).get_job(tree.job.id)
    assert failed is not None and "pending children" in (failed.failed_reason or "")


@pytest.mark.parametrize("flag", ["ignore_dependency_on_failure",
                                  "remove_dependency_on_failure"])
def test_ignored_or_removed_dependency(flag: str, flows: FlowProducer, names: dict[str, str],
                                       redis_url: str) -> None:
    tree = flows.add(order_flow(names, **{flag: True}))
    run_failing_child(names, redis_url, tree)
    assert state(redis_url, names["orders"], tree.job.id) == "waiting-children"
    ignored = tree.job.get_ignored_children_failures()
    if flag == "ignore_dependency_on_failure":
        assert ignored == {tree.children[0].job.key: "card declined"}
    else:
        assert ignored == {}
    with running_worker(names["inventory"], lambda job: 1, connection=redis_url), \
            running_worker(names["notifications"], lambda job: 1, connection=redis_url), \
            running_worker(names["orders"], lambda job: "ok", connection=redis_url):
        wait_for(lambda: state(redis_url, names["orders"], tree.job.id) == "completed")


def test_without_a_policy_the_parent_waits_and_a_retry_goes_on(
        flows: FlowProducer, names: dict[str, str], redis_url: str) -> None:
    tree = flows.add(order_flow(names))
    run_failing_child(names, redis_url, tree)
    assert state(redis_url, names["orders"], tree.job.id) == "waiting-children"
    assert tree.children[0].job.key in tree.job.get_dependencies()["unprocessed"]
    payments = Queue(names["payments"], redis_url)
    failed = payments.get_job(tree.children[0].job.id)
    assert failed is not None
    failed.retry()
    with running_worker(names["payments"], lambda job: 1, connection=redis_url), \
            running_worker(names["inventory"], lambda job: 1, connection=redis_url), \
            running_worker(names["notifications"], lambda job: 1, connection=redis_url), \
            running_worker(names["orders"], lambda job: "ok", connection=redis_url):
        wait_for(lambda: state(redis_url, names["orders"], tree.job.id) == "completed")
    payments.close()


def test_removing_a_parent_removes_its_children(flows: FlowProducer, names: dict[str, str],
                                                redis_url: str, r: redis.Redis) -> None:
    tree = flows.add(order_flow(names))
    assert Queue(names["orders"], redis_url).remove(tree.job.id) is True
    for node in [tree, *tree.children]:
        assert not r.exists(node.job.key)
    assert not r.exists(tree.job.key + ":dependencies")


def test_removing_a_child_releases_the_parent(flows: FlowProducer, names: dict[str, str],
                                              redis_url: str) -> None:
    tree = flows.add({**order_flow(names), "children": order_flow(names)["children"][:1]})
    assert Queue(names["payments"], redis_url).remove(tree.children[0].job.id) is True
    assert state(redis_url, names["orders"], tree.job.id) == "waiting"


def test_add_with_parent_option_joins_an_existing_flow(flows: FlowProducer,
                                                       names: dict[str, str],
                                                       redis_url: str) -> None:
    tree = flows.add({**order_flow(names), "children": order_flow(names)["children"][:1]})
    extra = Queue(names["inventory"], redis_url).add("late", {}, parent={
        "id": tree.job.id, "queue": f"bull:{names['orders']}"})
    assert extra.key in tree.job.get_dependencies()["unprocessed"]
    with pytest.raises(Exception, match="parent"):
        Queue(names["inventory"], redis_url).add("orphan", {}, parent={
            "id": "missing", "queue": f"bull:{names['orders']}"})


def test_bad_flows_are_refused_and_store_nothing(flows: FlowProducer, names: dict[str, str],
                                                 r: redis.Redis) -> None:
    before = r.dbsize()
    bad: list[Any] = [
        {"name": "x"},
        {"name": "x", "queue_name": "has:colon"},
        {"name": "x", "queue_name": names["orders"], "children": [{"name": "y"}]},
        {"name": "x", "queue_name": names["orders"], "children": "no"},
        {"name": "x", "queue_name": names["orders"], "extra": 1},
        {"name": "x", "queue_name": names["orders"], "children": [
            {"name": "y", "queue_name": names["payments"],
             "opts": {"fail_parent_on_failure": True, "ignore_dependency_on_failure": True}}]},
        {"name": "x", "queue_name": names["orders"], "children": [
            {"name": "y", "queue_name": names["payments"], "data": {1, 2}}]},
    ]
    for tree in bad:
        with pytest.raises(QueueCoreError):
            flows.add(tree)
    assert r.dbsize() == before


def test_async_flow_producer(flows: FlowProducer, names: dict[str, str]) -> None:
    import asyncio

    async def main() -> Any:
        tree = await flows.aadd(order_flow(names))
        back = await flows.aget_flow(tree.job.id, names["orders"])
        await flows.aclose()
        return tree, back

    tree, back = asyncio.run(main())
    assert back is not None and len(back.children) == 3
    assert {n.job.id for n in back.children} == {n.job.id for n in tree.children}
