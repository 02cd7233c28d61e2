"""Rate limits and global concurrency shared with Node BullMQ 6.7.0."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from queuecore import Job, Queue, RateLimitError
from tests.helpers import wait_for
from tests.rate_check import check_fixed_windows

from .helpers import NodeQueue

pytestmark = pytest.mark.interop


def noop(job: Job) -> str:
    return "qc"


def test_node_and_queuecore_limiters_share_one_window(queue: Queue, node_worker: Any,
                                                      qc_worker: Any) -> None:
    max_jobs, duration, total = 2, 1000, 12
    limiter = {"max": max_jobs, "duration": duration}
    node_worker({"limiter": limiter, "name": "node", "concurrency": 2})
    qc_worker(noop, limiter=limiter, name="qc", concurrency=2)
    queue.add_bulk([{"name": "echo", "data": {"i": i}} for i in range(total)])
    wait_for(lambda: queue.get_job_counts("completed")["completed"] == total, timeout=30,
             what="all jobs completed")
    jobs = queue.get_jobs("completed")
    assert {j.processed_by for j in jobs} == {"node", "qc"}  # both sides took jobs
    windows = check_fixed_windows([j.processed_on or 0 for j in jobs], max_jobs, duration)
    assert len(windows) == total // max_jobs


def test_global_concurrency_and_rate_limit_agree_both_ways(queue: Queue,
                                                           node_queue: NodeQueue) -> None:
    queue.set_global_concurrency(4)
    assert node_queue.op("getGlobalConcurrency") == 4
    node_queue.op("setGlobalConcurrency", concurrency=7)
    assert queue.get_global_concurrency() == 7
    node_queue.op("removeGlobalConcurrency")
    assert queue.get_global_concurrency() is None

    assert node_queue.op("getGlobalRateLimit") is None
    queue.set_global_rate_limit(10, 2000)
    assert node_queue.op("getGlobalRateLimit") == {"max": 10, "duration": 2000}
    node_queue.op("setGlobalRateLimit", max=3, duration=500)
    assert queue.get_global_rate_limit() == {"max": 3, "duration": 500}
    queue.remove_global_rate_limit()
    assert node_queue.op("getGlobalRateLimit") is None
    assert not {"concurrency", "max", "duration"} & set(queue.get_meta())


def ttls(queue: Queue, node_queue: NodeQueue, max_jobs: int | None) -> tuple[int, int]:
    params = {} if max_jobs is None else {"maxJobs": max_jobs}
    return queue.get_rate_limit_ttl(max_jobs), node_queue.op("getRateLimitTtl", **params)


def test_rate_limit_ttl_agrees_both_ways(queue: Queue, node_queue: NodeQueue,
                                         r: redis.Redis) -> None:
    limiter = queue.keys["limiter"]
    assert ttls(queue, node_queue, None) == (-2, -2)
    assert ttls(queue, node_queue, 5) == (0, 0)
    queue.rate_limit(8000)  # ours, read by Node
    ours, node = ttls(queue, node_queue, None)
    assert 5000 < node <= ours <= 8000
    node_queue.op("removeRateLimitKey")
    assert r.exists(limiter) == 0
    node_queue.op("rateLimit", ms=9000)  # Node's, read by us: same counter, same expiry
    assert r.get(limiter) == str(2**53 - 1)
    ours, node = ttls(queue, node_queue, 1000)
    assert 6000 < node <= ours <= 9000
    r.set(limiter, 2, px=8000)  # two starts in the current window
    assert ttls(queue, node_queue, 3) == (0, 0)
    ours, node = ttls(queue, node_queue, 2)
    assert 5000 < node <= ours <= 8000
    queue.set_global_rate_limit(3, 1000)  # no max given: the global one applies
    assert ttls(queue, node_queue, None) == (0, 0)
    r.incr(limiter)
    ours, node = ttls(queue, node_queue, None)
    assert 5000 < node <= ours <= 8000
    assert queue.remove_rate_limit_key() == 1
    assert node_queue.op("removeRateLimitKey") == 0


def test_node_manual_rate_limit_holds_a_queuecore_worker(queue: Queue, node_queue: NodeQueue,
                                                         qc_worker: Any) -> None:
    before = int(time.time() * 1000)
    node_queue.op("rateLimit", ms=1500)
    job = queue.add("echo")
    qc_worker(noop, limiter={"max": 10, "duration": 1000})
    wait_for(lambda: queue.get_job_counts("completed")["completed"] == 1, timeout=10)
    done = queue.get_job(job.id)
    assert done is not None and done.processed_on is not None
    assert done.processed_on >= before + 1500 - 50


def test_job_given_back_by_queuecore_is_run_by_node(queue: Queue, node_worker: Any,
                                                    qc_worker: Any) -> None:
    def limited(job: Job) -> None:
        queue.rate_limit(10_000)
        raise RateLimitError()

    # a limiter makes the queuecore worker honour the key; Node's worker has none
    qc_worker(limited, limiter={"max": 100, "duration": 1000})
    job = queue.add("echo", {"n": 1})
    wait_for(lambda: (j := queue.get_job(job.id)) is not None and j.attempts_started == 1
             and j.get_state() == "waiting", what="the job given back")
    node = node_worker()
    [completed] = node.wait_event("completed", job.id, timeout=10)
    assert completed["result"] == {"echo": {"n": 1}, "by": "node", "attemptsMade": 0}
    done = queue.get_job(job.id)
    assert done is not None and (done.attempts_made, done.attempts_started) == (1, 2)
