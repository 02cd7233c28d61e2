"""Fixtures of the interop tests: Node BullMQ scripts and queuecore workers
that are stopped at the end of each test (before the queue is obliterated)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from queuecore import Queue, Worker

from .helpers import NodeProcess, NodeQueue, WorkerThread, node_available


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if node_available():
        return
    skip = pytest.mark.skip(reason="node or node_modules/bullmq missing (npm ci)")
    for item in items:
        if "interop" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def node_queue(redis_url: str, queue_name: str) -> NodeQueue:
    """Node BullMQ Queue operations on the test's queue."""
    return NodeQueue(redis_url, queue_name)


@pytest.fixture
def node_worker(redis_url: str, queue_name: str, queue: Queue
                ) -> Iterator[Callable[..., NodeProcess]]:
    """Start a Node BullMQ Worker (node/worker.js); waits until it is ready."""
    started: list[NodeProcess] = []

    def start(params: dict[str, Any] | None = None, name: str | None = None) -> NodeProcess:
        options = {"drainDelay": 1, **(params or {})}
        process = NodeProcess("worker.js", redis_url, name or queue_name, options)
        started.append(process)
        process.wait_event("ready")
        return process

    yield start
    for process in started:
        process.close()


@pytest.fixture
def node_events(redis_url: str, queue_name: str, queue: Queue
                ) -> Iterator[Callable[..., NodeProcess]]:
    """Start a Node BullMQ QueueEvents (node/events.js) printing what it receives."""
    started: list[NodeProcess] = []

    def start(params: dict[str, Any] | None = None) -> NodeProcess:
        process = NodeProcess("events.js", redis_url, queue_name, params)
        started.append(process)
        process.wait_event("__ready__")
        return process

    yield start
    for process in started:
        process.close()


class WorkerFactory:
    """``qc_worker(processor, concurrency=2)`` starts a queuecore Worker in a
    thread; ``qc_worker.release`` is an Event that blocking processors can
    wait on (it is set before the workers are closed)."""

    def __init__(self, redis_url: str, queue_name: str) -> None:
        self.redis_url = redis_url
        self.queue_name = queue_name
        self.release = threading.Event()
        self.started: list[WorkerThread] = []

    def __call__(self, processor: Callable[..., Any], queue_name: str | None = None,
                 on: dict[str, Callable[..., Any]] | None = None,
                 **options: Any) -> WorkerThread:
        options.setdefault("drain_delay", 1.0)
        worker = Worker(queue_name or self.queue_name, processor, connection=self.redis_url,
                        **options)
        for event, callback in (on or {}).items():
            worker.on(event, callback)
        thread = WorkerThread(worker, self.release)
        self.started.append(thread)
        return thread

    def close(self) -> None:
        self.release.set()
        for thread in self.started:
            thread.close()


@pytest.fixture
def qc_worker(redis_url: str, queue_name: str, queue: Queue) -> Iterator[WorkerFactory]:
    factory = WorkerFactory(redis_url, queue_name)
    yield factory
    factory.close()
