"""Custom job ids: queuecore refuses exactly the ids Node BullMQ 6.7.0 refuses
(integer-like, ':' outside three parts), plus the ids that are the queue's own
key names, which Node stores and which break its queue."""

from __future__ import annotations

import pytest
import redis

from queuecore import InvalidOptionError, Queue

from .helpers import NodeQueue

pytestmark = pytest.mark.interop

IDS = ["42", "-5", "0", "9007199254740992", "9007199254740993", "12345678901234567000",
       "9" * 30, "007", "-0", "+5", "1e3", "00", " 7", "²", "a:b", "a:b:c", "a:b:c:d",
       "repeat:s:1700000000000", "job-1"]


def test_queuecore_refuses_the_ids_node_refuses(queue: Queue, node_queue: NodeQueue) -> None:
    node = node_queue.ops([{"op": "add", "name": "x", "opts": {"jobId": job_id}}
                           for job_id in IDS])
    for job_id, result in zip(IDS, node, strict=True):
        node_refused = isinstance(result, dict) and "error" in result
        try:
            queue.add("x", job_id=job_id)
            refused = False
        except InvalidOptionError:
            refused = True
        assert refused == node_refused, (job_id, result)


@pytest.mark.parametrize("job_id", ["wait", "events", "marker"])
def test_node_stores_a_key_name_as_an_id_and_breaks_its_queue(
        queue: Queue, node_queue: NodeQueue, r: redis.Redis, job_id: str) -> None:
    # why queuecore refuses more than BullMQ: Node's add fails half-way...
    first, after = node_queue.ops([{"op": "add", "name": "x", "opts": {"jobId": job_id}},
                                   {"op": "add", "name": "next"}])
    assert "error" in first and "WRONGTYPE" in first["error"]
    # ...leaving a job hash where the queue's key was, so every later add fails
    assert "error" in after and "WRONGTYPE" in after["error"]
    r.delete(queue.keys[job_id])  # so that the fixture can obliterate the queue
    with pytest.raises(InvalidOptionError, match="queue's own keys"):
        queue.add("x", job_id=job_id)
