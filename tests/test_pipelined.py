"""The auto-pipelined connection that carries async script calls: concurrent
callers share one socket, replies are matched in order, errors and lost
connections are reported to the right callers, and it reconnects."""

from __future__ import annotations

import asyncio

import pytest
import redis
from redis.exceptions import ResponseError

from queuecore import Connection, ConnectionFailedError, Queue, RedisCommandError
from queuecore.driver import Eval


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_thousands_of_concurrent_adds_share_one_connection(queue_name: str, redis_url: str,
                                                           r: redis.Redis) -> None:
    async def main() -> list[str]:
        q = Queue(queue_name, redis_url)
        try:
            jobs = await asyncio.gather(*(q.aadd("job", {"i": i}) for i in range(3000)))
            # the replies went to the right callers
            for i, job in enumerate(jobs):
                stored = await q.aget_job(job.id)
                assert stored is not None and stored.data == {"i": i}
            return [job.id for job in jobs]
        finally:
            await q.aobliterate(force=True)
            await q.aclose()

    ids = run(main())
    assert len(set(ids)) == 3000  # type: ignore[arg-type]


def test_scripts_flushed_from_the_server_are_sent_again(queue: Queue, r: redis.Redis) -> None:
    async def main() -> None:
        await queue.aadd("before")
        r.script_flush()
        await queue.aadd("after")
        await queue.aclose()

    run(main())
    assert queue.get_job_counts("waiting")["waiting"] == 2


def test_a_lost_connection_fails_its_callers_then_reconnects(queue: Queue,
                                                             r: redis.Redis) -> None:
    async def main() -> None:
        await queue.aadd("first")
        killed = 0
        for client in r.client_list():
            if client.get("cmd") in ("evalsha", "eval") and client["id"] != str(r.client_id()):
                r.client_kill_filter(_id=client["id"])
                killed += 1
        assert killed >= 1
        await asyncio.sleep(0.05)
        await queue.aadd("after the kill")  # a new connection, transparently
        await queue.aclose()

    run(main())
    assert queue.get_job_counts("waiting")["waiting"] == 2


def test_server_down_is_a_clear_error() -> None:
    from queuecore.embedded import free_port

    async def main() -> None:
        q = Queue("nowhere", f"redis://127.0.0.1:{free_port()}")
        with pytest.raises(ConnectionFailedError, match="unreachable"):
            await q.aadd("lost")

    run(main())


def test_error_replies_reach_their_caller_and_the_connection_goes_on(redis_url: str) -> None:
    async def main() -> None:
        conn = Connection(redis_url)

        def bad() -> object:  # add_job with an argument that is not msgpack
            return (yield Eval("add_job", ["bull:x:"], ["not msgpack"]))

        with pytest.raises(RedisCommandError, match="script add_job: ERR") as caught:
            await conn.arun(bad())
        assert isinstance(caught.value.__cause__, ResponseError)
        queue = Queue("after-error", conn)
        job = await queue.aadd("fine")
        assert job.id
        await queue.aobliterate(force=True)
        await conn.aclose()

    run(main())


def test_password_and_database_from_the_url(redis_url: str, r: redis.Redis,
                                            queue_name: str) -> None:
    r.config_set("requirepass", "s3cret")
    try:
        authed = redis.Redis.from_url(redis_url, password="s3cret", db=3, decode_responses=True)
        host_port = redis_url.split("//", 1)[1]

        async def main() -> None:
            q = Queue(queue_name, f"redis://:s3cret@{host_port}/3")
            await q.aadd("in db 3")
            await q.aclose()

        run(main())
        assert authed.exists(f"bull:{queue_name}:1") == 1
        authed.flushdb()
    finally:
        admin = redis.Redis.from_url(redis_url, password="s3cret")
        admin.config_set("requirepass", "")
        admin.close()


def test_a_caller_that_gives_up_during_a_failed_connect_leaves_no_stray_error() -> None:
    """A connect that fails after its only caller was cancelled (a worker
    stopping while Redis is down) is not logged as "Task exception was never
    retrieved"."""
    import gc

    from queuecore.embedded import free_port
    from queuecore.pipelined import PipelinedClient

    seen: list[dict[str, object]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: seen.append(ctx))
        client = PipelinedClient("127.0.0.1", free_port())
        caller = asyncio.ensure_future(client.execute("PING"))
        await asyncio.sleep(0)  # the connect has started
        caller.cancel()
        await asyncio.sleep(0.2)  # ... and failed, with nobody waiting
        del client, caller
        gc.collect()

    run(main())
    gc.collect()
    assert [ctx.get("message") for ctx in seen] == []


def test_names_read_with_foreign_bytes_go_back_as_those_bytes(redis_url: str,
                                                              r: redis.Redis) -> None:
    """A queue name read with a byte that is not UTF-8 (a lone surrogate) is
    sent back as that byte, and the pipelined connection stays in step."""
    raw = redis.Redis.from_url(redis_url)
    raw.hset(b"bull:q\xff:1", mapping={"name": "foreign", "data": "{}"})
    raw.lpush(b"bull:q\xff:wait", b"1")

    async def main() -> tuple[list[str], int]:
        conn = Connection(redis_url)
        queue = Queue("q\udcff", conn)
        jobs = await queue.aget_jobs("waiting")  # a script call: the pipelined connection
        counts = await queue.aget_job_counts("waiting")
        other = await Queue("after", conn).aadd("fine")
        await Queue("after", conn).aobliterate(force=True)
        await conn.aclose()
        return [j.name for j in jobs], counts["waiting"] + int(bool(other.id))

    try:
        assert run(main()) == (["foreign"], 2)
        assert Queue("q\udcff", connection=redis_url).get_job("1").name == "foreign"
    finally:
        raw.delete(b"bull:q\xff:1", b"bull:q\xff:wait")
        raw.close()
