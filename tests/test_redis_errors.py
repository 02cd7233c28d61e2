"""Errors Redis answers with reach the caller as queuecore errors (mapped in the
call driver, connection.py), with redis-py's error as the cause: sync, asyncio
and the auto-pipelined path alike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.exceptions

from queuecore import (
    Connection,
    OutOfMemoryError,
    Queue,
    QueueCoreError,
    ReadOnlyError,
    RedisCommandError,
    WrongTypeError,
)
from queuecore.driver import Eval
from queuecore.embedded import EmbeddedRedis

from .snapshots import changes, snapshot


def in_both(queue: Queue, call: Callable[[Queue, bool], Any]) -> list[BaseException]:
    """The error raised by ``call`` through the sync API, then the asyncio one."""
    errors: list[BaseException] = []
    try:
        call(queue, False)
    except Exception as exc:
        errors.append(exc)

    async def main() -> None:
        try:
            await call(queue, True)
        except Exception as exc:
            errors.append(exc)
        finally:
            await queue.aclose()

    asyncio.run(main())
    assert len(errors) == 2, f"expected both calls to fail, got {errors}"
    return errors


@pytest.mark.parametrize(("what", "call"), [
    ("HGETALL", lambda q, a: q.aget_job("list") if a else q.get_job("list")),
    ("pipeline", lambda q, a: q.aget_job_logs("list") if a else q.get_job_logs("list")),
    ("script get_state", lambda q, a: q.get_job("fine").aget_state() if a
     else q.get_job("fine").get_state()),
])
def test_wrongtype_is_a_wrong_type_error(queue: Queue, r: redis.Redis, what: str,
                                         call: Callable[[Queue, bool], Any]) -> None:
    queue.add("fine", job_id="fine")
    r.rpush(queue.keys.job("list"), "x")
    r.set(queue.keys.job("list") + ":logs", "x")
    r.delete(queue.keys["completed"])
    r.set(queue.keys["completed"], "not a zset")
    try:
        for error in in_both(queue, call):
            assert isinstance(error, WrongTypeError), error
            assert what in str(error) and "WRONGTYPE" in str(error)
            assert isinstance(error.__cause__, redis.exceptions.ResponseError)
            # callers that caught redis-py's errors (the worker's loop) still do
            assert isinstance(error, redis.exceptions.RedisError)
    finally:
        r.delete(queue.keys["completed"], queue.keys.job("list"), queue.keys.job("list") + ":logs")


def test_a_lua_error_is_a_redis_command_error(redis_url: str) -> None:
    conn = Connection(redis_url)

    def bad() -> Any:  # add_job with an argument that is not msgpack
        return (yield Eval("add_job", ["bull:x:"], ["not msgpack"]))

    with pytest.raises(RedisCommandError, match=r"script add_job: .*bad argument") as caught:
        conn.run(bad())
    assert isinstance(caught.value.__cause__, redis.exceptions.ResponseError)
    assert caught.value.command == "script add_job"
    conn.close()


def test_a_command_argument_that_is_not_text_is_an_invalid_option(queue: Queue) -> None:
    with pytest.raises(QueueCoreError, match="cannot be sent to Redis"):
        queue.get_job("\ud800")  # a lone surrogate that surrogateescape cannot encode


@pytest.fixture
def full_server(redis_url: str, r: redis.Redis) -> Iterator[None]:
    """The test server at maxmemory (noeviction), for the body of the test."""
    old = r.config_get("maxmemory*")
    r.config_set("maxmemory-policy", "noeviction")
    r.config_set("maxmemory", 1)
    try:
        yield
    finally:
        r.config_set("maxmemory", old["maxmemory"])
        r.config_set("maxmemory-policy", old["maxmemory-policy"])


def test_oom_is_an_out_of_memory_error_and_writes_nothing(queue: Queue, redis_url: str,
                                                          full_server: None) -> None:
    before = snapshot(redis_url)
    errors = in_both(queue, lambda q, a: q.aadd("x", {"n": 1}) if a else q.add("x", {"n": 1}))
    for error in errors:
        assert isinstance(error, OutOfMemoryError), error
        assert "script add_job: OOM" in str(error)
        assert isinstance(error.__cause__, redis.exceptions.ResponseError)
    assert not changes(before, snapshot(redis_url))


def test_readonly_replica_is_a_read_only_error(redis_url: str, tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as replica:
        client = redis.Redis.from_url(replica.url)
        port = int(redis_url.rsplit(":", 1)[1])
        client.replicaof("127.0.0.1", port)
        queue = Queue("on-a-replica", connection=replica.url)
        try:
            for error in in_both(queue, lambda q, a: q.aadd("x") if a else q.add("x")):
                assert isinstance(error, ReadOnlyError), error
                assert "READONLY" in str(error)
        finally:
            client.replicaof("NO", "ONE")
            client.close()
