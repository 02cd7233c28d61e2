"""Bad input: a clear error naming the problem, and nothing written."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
import redis

from queuecore import (
    Connection,
    ConnectionFailedError,
    InvalidOptionError,
    Queue,
    SerializationError,
)


def assert_nothing_written(r: redis.Redis, queue: Queue) -> None:
    assert r.keys(f"{queue.keys.base}*") == []


@pytest.mark.parametrize(("options", "message"), [
    ({"removeOnComplete": True}, "spells BullMQ's 'removeOnComplete' as 'remove_on_complete'"),
    ({"jobId": "x"}, "'job_id'"),
    ({"keepLogs": 3}, "'keep_logs'"),
    ({"colour": "red"}, "unknown job option 'colour'"),
    ({"delay": -1}, "delay must be at least 0 ms"),
    ({"delay": "soon"}, "delay must be a number of milliseconds"),
    ({"delay": math.nan}, "finite"),
    ({"priority": 0.5}, "priority must be an integer"),
    ({"priority": 2_097_152}, "priority must be between 0 and 2,097,151"),
    ({"priority": -1}, "priority must be between"),
    ({"attempts": 0}, "attempts must be at least 1"),
    ({"attempts": "3"}, "attempts must be an integer"),
    ({"backoff": {"type": "linear", "delay": 10}}, "unknown backoff type 'linear'"),
    ({"backoff": {"type": "fixed", "jitter": 2}}, "jitter"),
    ({"remove_on_complete": {"age": 1, "counts": 3}}, "accepts the keys"),
    ({"remove_on_fail": -2}, "remove_on_fail must be at least 0"),
    ({"job_id": "42"}, "looks like an integer"),
    ({"job_id": "a:b"}, "may not contain ':'"),
    ({"job_id": "0:x:y"}, "may not be '0'"),
    ({"lifo": "yes"}, "lifo must be True or False"),
])
def test_invalid_options_are_refused(queue: Queue, r: redis.Redis, options: dict,
                                     message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message.replace("(", r"\(")):
        queue.add("job", {"ok": True}, **options)
    assert_nothing_written(r, queue)


@pytest.mark.parametrize("data", [{"when": object()}, {1, 2}, {"x": math.inf}, b"bytes"])
def test_data_that_is_not_json_is_refused(queue: Queue, r: redis.Redis, data: object) -> None:
    with pytest.raises(SerializationError, match="job data is not JSON-serialisable"):
        queue.add("job", data)
    assert_nothing_written(r, queue)


def test_timedelta_durations(queue: Queue) -> None:
    job = queue.add("t", delay=timedelta(seconds=2), backoff=timedelta(milliseconds=1500),
                    attempts=2)
    assert job.delay == 2000
    assert job.opts["backoff"] == {"type": "fixed", "delay": 1500}


def test_default_job_options_are_validated_and_merged(redis_url: str, queue_name: str) -> None:
    with pytest.raises(InvalidOptionError, match="'attempts'"):
        Queue(queue_name, connection=redis_url, default_job_options={"attemps": 3})
    queue = Queue(queue_name, connection=redis_url, default_job_options={"attempts": 3})
    try:
        assert queue.add("a").opts["attempts"] == 3
        assert queue.add("b", attempts=1).opts["attempts"] == 1
    finally:
        queue.obliterate()


def test_unknown_connection_type() -> None:
    with pytest.raises(InvalidOptionError, match="connection must be"):
        Queue("q", connection=42)


def test_redis_down_at_add_raises() -> None:
    queue = Queue("down", connection=Connection("redis://127.0.0.1:1", socket_connect_timeout=1))
    with pytest.raises(ConnectionFailedError, match="Redis is unreachable"):
        queue.add("lost", {"a": 1})
    with pytest.raises(ConnectionError):
        queue.get_job_counts()
