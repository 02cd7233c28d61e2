"""queuecore: BullMQ-compatible job queues on Redis, for Python and Django."""

from .backoff import register as register_backoff
from .clients import WorkerInfo
from .connection import Connection
from .errors import (
    ConnectionFailedError,
    InvalidOptionError,
    InvalidQueueNameError,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    JobNotInStateError,
    LockError,
    OutOfMemoryError,
    QueueCoreError,
    RateLimitError,
    ReadOnlyError,
    RedisCommandError,
    ScriptError,
    SerializationError,
    TimeoutError,
    UnrecoverableError,
    WrongTypeError,
)
from .events import EventsFollower, QueueEvents
from .flow import FlowProducer, JobNode
from .job import Job
from .overview import Overview, ServerInfo
from .queue import Queue
from .reads import Activity, FlowNode, JobTree, QueueSummary, SchedulerRun
from .registry import processor
from .schedulers import JobScheduler
from .worker import Worker


def get_queue(name: str) -> Queue:
    """A ``Queue`` configured from Django settings (``QUEUECORE``)."""
    from .conf import get_queue as configured

    return configured(name)


__all__ = [
    "Activity",
    "Connection",
    "ConnectionFailedError",
    "EventsFollower",
    "FlowNode",
    "FlowProducer",
    "InvalidOptionError",
    "InvalidQueueNameError",
    "Job",
    "JobCancelledError",
    "JobFailedError",
    "JobNode",
    "JobNotFoundError",
    "JobNotInStateError",
    "JobScheduler",
    "JobTree",
    "LockError",
    "OutOfMemoryError",
    "Overview",
    "Queue",
    "QueueCoreError",
    "QueueEvents",
    "QueueSummary",
    "RateLimitError",
    "ReadOnlyError",
    "RedisCommandError",
    "SchedulerRun",
    "ScriptError",
    "SerializationError",
    "ServerInfo",
    "TimeoutError",
    "UnrecoverableError",
    "Worker",
    "WorkerInfo",
    "WrongTypeError",
    "get_queue",
    "processor",
    "register_backoff",
]
