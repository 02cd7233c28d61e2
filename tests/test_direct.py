"""The sync API's script calls on plain sockets (queuecore.direct)."""

from __future__ import annotations

import threading

import pytest
import redis
from redis.exceptions import ResponseError

from queuecore import Connection, Queue
from queuecore.driver import Eval
from queuecore.errors import ConnectionFailedError, RedisCommandError


def test_a_socket_killed_while_idle_is_replaced_before_use(queue: Queue,
                                                           r: redis.Redis) -> None:
    queue.add("first")
    killed = 0
    for client in r.client_list():
        if client.get("cmd") in ("evalsha", "eval") and client["id"] != str(r.client_id()):
            r.client_kill_filter(_id=client["id"])
            killed += 1
    assert killed >= 1
    queue.add("after the kill")
    names = sorted(j.name for j in queue.get_jobs("waiting"))
    assert names == ["after the kill", "first"]


def test_server_down_is_a_clear_error() -> None:
    from queuecore.embedded import free_port

    q = Queue("nowhere", f"redis://127.0.0.1:{free_port()}")
    with pytest.raises(ConnectionFailedError, match="unreachable"):
        q.add("lost")


def test_an_error_reply_reaches_its_caller_and_the_socket_goes_on(redis_url: str) -> None:
    conn = Connection(redis_url)

    def bad() -> object:  # add_job with an argument that is not msgpack
        return (yield Eval("add_job", ["bull:x:"], ["not msgpack"]))

    with pytest.raises(RedisCommandError, match="script add_job: ERR") as caught:
        conn.run(bad())
    assert isinstance(caught.value.__cause__, ResponseError)
    queue = Queue("direct-after-error", conn)
    assert queue.add("fine").id
    queue.obliterate(force=True)
    conn.close()


def test_threads_share_the_sockets(queue: Queue) -> None:
    errors: list[BaseException] = []

    def add_many() -> None:
        try:
            for i in range(50):
                queue.add("t", {"i": i})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add_many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert queue.get_job_counts("waiting")["waiting"] == 400
    assert len(queue.connection._executor.direct._idle) <= 8


def test_password_and_database_from_the_url(redis_url: str, r: redis.Redis,
                                            queue_name: str) -> None:
    r.config_set("requirepass", "s3cret")
    try:
        authed = redis.Redis.from_url(redis_url, password="s3cret", db=3, decode_responses=True)
        host_port = redis_url.split("//", 1)[1]
        q = Queue(queue_name, f"redis://:s3cret@{host_port}/3")
        q.add("in db 3")
        q.close()
        assert authed.exists(f"bull:{queue_name}:1") == 1
        authed.flushdb()
    finally:
        admin = redis.Redis.from_url(redis_url, password="s3cret")
        admin.config_set("requirepass", "")
        admin.close()


def test_with_a_socket_timeout_an_idle_socket_is_checked_without_waiting(
        redis_url: str, queue_name: str) -> None:
    import time

    q = Queue(queue_name, Connection(redis_url, socket_timeout=5))
    q.add("first")
    started = time.monotonic()
    q.add("second")  # takes the idle socket: checking it must not wait for the timeout
    assert time.monotonic() - started < 1
    assert q.get_job_counts("waiting")["waiting"] == 2
    q.obliterate(force=True)
