"""A worker against Redis that is down at start, restarted under it, or cuts
a reply; and job hashes with bytes that are not UTF-8. Real servers of the
test's own (``own_server``), so the session server is untouched."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from queuecore import ConnectionFailedError, Queue
from queuecore.embedded import EmbeddedRedis

from .helpers import Recorder, running_worker, wait_for


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A server of the test's own, to stop and restart (fsync at every write)."""
    server = EmbeddedRedis(tmp_path / "own-redis", extra_args=("--appendfsync", "always"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_worker_started_while_redis_is_down_waits_for_it(
        own_server: EmbeddedRedis, queue_name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="queuecore.worker")
    queue = Queue(queue_name, connection=own_server.url)
    try:
        job = queue.add("before", {"n": 1})
        own_server.stop()
        with running_worker(queue_name, lambda j: j.data["n"] * 2, own_server.url,
                            drain_delay=0.5) as worker:
            rec = Recorder(worker, "completed", "error")
            wait_for(lambda: len(rec["error"]) >= 2, 10, what="the worker retrying")
            assert worker._thread is not None and worker._thread.is_alive(), \
                "the worker died instead of waiting for Redis"
            errors = [args[0] for args in rec["error"]]
            assert all(isinstance(e, ConnectionFailedError | redis.RedisError | OSError)
                       for e in errors), errors
            # it backs off: a few tries in a second, not a busy loop
            time.sleep(1.0)
            assert len(rec["error"]) < 12, len(rec["error"])
            own_server.start()
            wait_for(lambda: rec["completed"], 15, what="the job completed once Redis is up")
        assert [args[1] for args in rec["completed"]] == [2]
        assert queue.get_job(job.id).returnvalue == 2  # type: ignore[union-attr]
        assert any("Redis error" in m and queue_name in m for m in caplog.messages), \
            caplog.messages
    finally:
        queue.close()


def test_worker_closed_while_waiting_for_redis_stops(own_server: EmbeddedRedis,
                                                     queue_name: str) -> None:
    own_server.stop()
    with running_worker(queue_name, lambda j: None, own_server.url, close_timeout=5) as worker:
        rec = Recorder(worker, "error", "closed")
        wait_for(lambda: rec["error"], 10, what="the worker retrying")
    assert rec["closed"] == [()]
