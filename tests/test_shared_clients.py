"""Workers of one Connection in one loop share its clients: each has only its
blocking connection to itself, and one pubsub connection hears every
worker's cancel requests."""

from __future__ import annotations

import asyncio
import uuid

import redis

from queuecore import Connection, Job, Queue, Worker

N = 6


def _ours(r: redis.Redis) -> list[dict[str, str]]:
    return [c for c in r.client_list() if c["id"] != str(r.client_id())]


def test_n_workers_hold_n_blocking_connections_plus_three(redis_url: str,
                                                          r: redis.Redis) -> None:
    base = f"shared-{uuid.uuid4().hex[:8]}"
    before = len(_ours(r))
    started: dict[str, asyncio.Event] = {}
    cancelled: dict[str, str] = {}

    async def process(job: Job) -> None:
        started[job.queue.name].set()
        await asyncio.sleep(30)  # until cancelled

    async def main() -> tuple[int, int]:
        connection = Connection(redis_url)
        workers = [Worker(f"{base}-{i}", process, connection, drain_delay=0.2)
                   for i in range(N)]
        for w in workers:
            started[w.queue.name] = asyncio.Event()
            w.on("cancelled", lambda job, reason: cancelled.__setitem__(job.queue.name, reason))
        runs = [asyncio.ensure_future(w.arun()) for w in workers]
        for w in workers:
            await w.queue.aadd("long")
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started.values())), 15)
        held = len(_ours(r)) - before
        for w in workers:  # a cancel reaches each worker through the one subscription
            [job] = await w.queue.aget_jobs("active")
            await w.queue.acancel_job(job.id, reason=f"stop {w.queue.name}")
        for _ in range(100):
            if len(cancelled) == N:
                break
            await asyncio.sleep(0.05)
        subscribers = sum(1 for c in _ours(r) if c.get("cmd") in ("subscribe", "ssubscribe")
                          or int(c.get("sub", 0)) > 0)
        for w in workers:
            await w.aclose()
        await asyncio.gather(*runs)
        for w in workers:
            await w.queue.aobliterate(force=True)
        await connection.aclose()
        return held, subscribers

    held, subscribers = asyncio.run(main())
    # N blocking + the shared asyncio client, auto-pipelined connection and pubsub
    assert held <= N + 3, held
    assert subscribers == 1
    assert cancelled == {f"{base}-{i}": f"stop {base}-{i}" for i in range(N)}


def test_a_worker_made_from_a_url_closes_what_it_opened(redis_url: str, r: redis.Redis,
                                                        queue_name: str) -> None:
    before = len(_ours(r))

    async def noop(job: Job) -> None:
        return None

    async def main() -> None:
        worker = Worker(queue_name, noop, redis_url, drain_delay=0.2)
        run = asyncio.ensure_future(worker.arun())
        await worker.queue.aadd("one")
        await asyncio.sleep(0.5)
        await worker.aclose()
        await run

    asyncio.run(main())
    Queue(queue_name, redis_url).obliterate(force=True)
    for _ in range(50):
        if len(_ours(r)) <= before + 1:  # the obliterate's own sync connection at most
            break
        asyncio.run(asyncio.sleep(0.05))
    assert len(_ours(r)) <= before + 1
