"""Flows across libraries: a flow made by Node BullMQ's FlowProducer runs in
queuecore workers and the reverse, with Node and queuecore children under one
parent, and each side reads the other's trees, dependencies and failures."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from queuecore import FlowProducer, Queue
from tests.helpers import wait_for

from .helpers import node_flow, queuecore_processor

pytestmark = pytest.mark.interop


@pytest.fixture
def names(redis_url: str) -> Iterator[dict[str, str]]:
    tag = uuid.uuid4().hex[:8]
    chosen = {k: f"{k}-{tag}" for k in ("orders", "payments", "inventory")}
    yield chosen
    for name in chosen.values():
        q = Queue(name, redis_url)
        q.obliterate(force=True)
        q.close()


def node_tree(names: dict[str, str], **child_opts: Any) -> dict[str, Any]:
    """Node FlowProducer's spelling of the order flow."""
    return {"name": "order", "queueName": names["orders"], "data": {"mode": "children"},
            "children": [
                {"name": "charge", "queueName": names["payments"], "data": {"amount": 5},
                 "opts": child_opts},
                {"name": "reserve", "queueName": names["inventory"], "data": {"sku": "A"}}]}


def qc_tree(names: dict[str, str], **child_opts: Any) -> dict[str, Any]:
    return {"name": "order", "queue_name": names["orders"], "data": {"mode": "children"},
            "children": [
                {"name": "charge", "queue_name": names["payments"], "data": {"amount": 5},
                 "opts": child_opts},
                {"name": "reserve", "queue_name": names["inventory"], "data": {"sku": "A"}}]}


def state(redis_url: str, queue_name: str, job_id: str) -> str:
    with Queue(queue_name, redis_url) as q:
        job = q.get_job(job_id)
        return job.get_state() if job else "missing"


def test_node_flow_runs_in_queuecore_and_node_workers(
        names: dict[str, str], redis_url: str, r: redis.Redis, node_worker: Any,
        qc_worker: Any) -> None:
    tree = node_flow(redis_url, "add", flow=node_tree(names))
    parent_id = tree["id"]
    charge, reserve = tree["children"]
    assert state(redis_url, names["orders"], parent_id) == "waiting-children"
    # what queuecore reads of Node's links
    with Queue(names["payments"], redis_url) as payments:
        child = payments.get_job(charge["id"])
    assert child is not None
    assert child.parent == {"id": parent_id, "queueKey": f"bull:{names['orders']}"}
    assert child.opts["parent"] == {"id": parent_id, "queue": f"bull:{names['orders']}"}

    qc_worker(queuecore_processor(qc_worker.release), queue_name=names["payments"])
    node_worker(name=names["inventory"])
    qc_worker(queuecore_processor(qc_worker.release), queue_name=names["orders"])
    wait_for(lambda: state(redis_url, names["orders"], parent_id) == "completed",
             what="the Node-made parent to complete in queuecore")
    with Queue(names["orders"], redis_url) as orders:
        parent = orders.get_job(parent_id)
    assert parent is not None
    values = parent.returnvalue["children"]
    assert values[f"bull:{names['payments']}:{charge['id']}"]["by"] == "queuecore"
    assert values[f"bull:{names['inventory']}:{reserve['id']}"]["by"] == "node"
    deps = node_flow(redis_url, "dependencies", id=parent_id, queueName=names["orders"])
    assert deps["counts"] == {"processed": 2, "unprocessed": 0, "ignored": 0, "failed": 0}
    assert deps["values"] == parent.get_children_values()


def test_queuecore_flow_runs_in_node_workers(names: dict[str, str], redis_url: str,
                                             r: redis.Redis, node_worker: Any,
                                             qc_worker: Any) -> None:
    with FlowProducer(redis_url) as flows:
        tree = flows.add(qc_tree(names))
    # the links Node writes and the ones queuecore writes are the same fields
    node_made = node_flow(redis_url, "add", flow=node_tree(names))
    ours = r.hgetall(tree.children[0].job.key)
    theirs = r.hgetall(f"bull:{names['payments']}:{node_made['children'][0]['id']}")
    assert set(ours) == set(theirs)
    assert json.loads(ours["parent"]).keys() == json.loads(theirs["parent"]).keys()
    assert ours["parentKey"] == tree.job.key
    node_flow(redis_url, "remove", id=node_made["id"], queueName=names["orders"])

    node_worker(name=names["payments"])
    qc_worker(queuecore_processor(qc_worker.release), queue_name=names["inventory"])
    node_worker(name=names["orders"])
    wait_for(lambda: state(redis_url, names["orders"], tree.job.id) == "completed",
             what="the queuecore-made parent to complete in Node")
    parent = tree.job.reload()
    values = parent.returnvalue["children"]
    assert parent.returnvalue["by"] == "node"
    assert values[tree.children[0].job.key]["by"] == "node"
    assert values[tree.children[1].job.key]["by"] == "queuecore"


def test_each_side_reads_the_others_flow(names: dict[str, str], redis_url: str) -> None:
    node_made = node_flow(redis_url, "add", flow=node_tree(names))
    with FlowProducer(redis_url) as flows:
        back = flows.get_flow(node_made["id"], names["orders"])
        assert back is not None
        assert sorted(n.job.id for n in back.children) == sorted(
            c["id"] for c in node_made["children"])
        ours = flows.add(qc_tree(names))
    theirs = node_flow(redis_url, "getFlow", id=ours.job.id, queueName=names["orders"])
    assert sorted(c["id"] for c in theirs["children"]) == sorted(
        n.job.id for n in ours.children)
    assert {c["queueName"] for c in theirs["children"]} == {names["payments"],
                                                           names["inventory"]}


@pytest.mark.parametrize("maker", ["node", "queuecore"])
def test_fail_parent_on_failure_across_libraries(maker: str, names: dict[str, str],
                                                 redis_url: str, node_worker: Any,
                                                 qc_worker: Any) -> None:
    """A child failing in one library fails the parent in the other."""
    if maker == "node":
        tree = node_flow(redis_url, "add", flow=node_tree(names, failParentOnFailure=True))
        parent_id, child_id = tree["id"], tree["children"][0]["id"]
    else:
        with FlowProducer(redis_url) as flows:
            made = flows.add(qc_tree(names, fail_parent_on_failure=True))
        parent_id, child_id = made.job.id, made.children[0].job.id
    with Queue(names["payments"], redis_url) as payments:
        job = payments.get_job(child_id)
        assert job is not None
        job.update_data({"mode": "fail", "message": "declined"})
    if maker == "node":
        qc_worker(queuecore_processor(qc_worker.release), queue_name=names["payments"])
        node_worker(name=names["orders"])
    else:
        node_worker(name=names["payments"])
        qc_worker(queuecore_processor(qc_worker.release), queue_name=names["orders"])
    wait_for(lambda: state(redis_url, names["orders"], parent_id) == "failed",
             what="the parent to fail after its child")
    deps = node_flow(redis_url, "dependencies", id=parent_id, queueName=names["orders"])
    child_key = f"bull:{names['payments']}:{child_id}"
    assert deps["dependencies"]["failed"] == [child_key]
    with Queue(names["orders"], redis_url) as orders:
        parent = orders.get_job(parent_id)
        assert parent is not None
        assert parent.get_dependencies()["failed"] == [child_key]


def test_removing_a_parent_removes_children_made_by_the_other_side(
        names: dict[str, str], redis_url: str, r: redis.Redis) -> None:
    node_made = node_flow(redis_url, "add", flow=node_tree(names))
    with Queue(names["orders"], redis_url) as orders:
        assert orders.remove(node_made["id"]) is True
    for child in node_made["children"]:
        assert not r.exists(f"bull:{child['queueName']}:{child['id']}")
    with FlowProducer(redis_url) as flows:
        ours = flows.add(qc_tree(names))
    assert node_flow(redis_url, "remove", id=ours.job.id, queueName=names["orders"]) == 1
    for node in ours.children:
        assert not r.exists(node.job.key)
