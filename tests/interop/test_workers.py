"""5. Worker discovery: each side lists the other's running workers."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from queuecore import Job, Queue, QueueEvents
from tests.helpers import wait_for

from .helpers import NodeQueue

pytestmark = pytest.mark.interop

def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def noop(job: Job) -> None:
    return None


def test_queuecore_lists_node_workers(queue: Queue, queue_name: str, node_queue: NodeQueue,
                                      node_worker: Any, node_events: Any) -> None:
    node_events()  # a QueueEvents connection (…:qe) is not a worker
    unnamed = node_worker()
    named = node_worker({"name": "node-w1"})
    expected = sorted([f"bull:{b64(queue_name)}", f"bull:{b64(queue_name)}:w:node-w1"])
    node_listed = wait_for(lambda: len(node_queue.op("getWorkers")) == 2
                             and node_queue.op("getWorkers"), what="two Node workers")
    assert sorted(w["rawname"] for w in node_listed) == expected
    workers = queue.get_workers()
    assert sorted(w["rawname"] for w in workers) == expected
    assert all(w["name"] == queue_name for w in workers)
    assert sorted(w["addr"] for w in workers) == sorted(w["addr"] for w in node_listed)
    named.close()
    wait_for(lambda: [w["rawname"] for w in queue.get_workers()] == [expected[0]],
               what="one worker after closing the named one")
    unnamed.close()
    wait_for(lambda: queue.get_workers() == [], what="no workers after closing")


def test_node_lists_queuecore_workers(queue_name: str, redis_url: str,
                                      node_queue: NodeQueue, qc_worker: Any) -> None:
    assert node_queue.op("getWorkers") == []
    events = QueueEvents(queue_name, connection=redis_url)
    events_thread = events.start()  # its connection is named …:qe, not a worker
    try:
        first = qc_worker(noop)
        second = qc_worker(noop, name="qc-w2")
        workers = wait_for(lambda: len(node_queue.op("getWorkers")) == 2
                             and node_queue.op("getWorkers"),
                             what="Node to list two queuecore workers")
        raw = sorted(w["rawname"] for w in workers)
        assert raw == sorted([f"bull:{b64(queue_name)}", f"bull:{b64(queue_name)}:w:qc-w2"])
        assert all(w["name"] == queue_name for w in workers)
        second.close()
        wait_for(lambda: [w["rawname"] for w in node_queue.op("getWorkers")]
                   == [f"bull:{b64(queue_name)}"], what="one worker left")
        first.close()
        wait_for(lambda: node_queue.op("getWorkers") == [], what="no workers left")
    finally:
        events.close()
        events_thread.join(5)
