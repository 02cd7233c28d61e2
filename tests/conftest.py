"""Fixtures: a private Redis server per test session, a unique queue per test.

QUEUECORE_TEST_REDIS_URL points the tests at an external server instead (its
database is not flushed; every test uses queues of its own).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, settings

from queuecore import Queue, Worker
from queuecore.embedded import EmbeddedRedis

# Property-based tests: a fixed seed and a bounded number of examples in
# `make test`, so a run is repeatable; HYPOTHESIS_PROFILE=deep searches wider.
settings.register_profile(
    "ci", max_examples=60, derandomize=True, database=None, deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile(
    "deep", max_examples=2000, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis | None]:
    if os.environ.get("QUEUECORE_TEST_REDIS_URL"):
        yield None
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: EmbeddedRedis | None) -> str:
    return os.environ.get("QUEUECORE_TEST_REDIS_URL") or redis_server.url  # type: ignore[union-attr]


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    """A plain client, to look at what Redis holds."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def raw_redis(redis_url: str) -> Iterator[redis.Redis]:
    """A client that writes and reads bytes, as a foreign producer does."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A server of the test's own, to stop and restart (append-only file on,
    fsynced at every write so a SIGKILL loses nothing acknowledged)."""
    server = EmbeddedRedis(tmp_path / "own-redis", extra_args=("--appendfsync", "always"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def queue_name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def queue(redis_url: str, queue_name: str) -> Iterator[Queue]:
    q = Queue(queue_name, connection=redis_url)
    yield q
    q.obliterate(force=True)
    q.close()


@pytest.fixture
def run_worker() -> Iterator[Callable[[Worker], Worker]]:
    """Start a Worker in a thread; it is closed (and joined) after the test."""
    started: list[tuple[Worker, threading.Thread]] = []

    def start(worker: Worker) -> Worker:
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        started.append((worker, thread))
        return worker

    yield start
    for worker, thread in started:
        worker.close(timeout=10)
        thread.join(10)

