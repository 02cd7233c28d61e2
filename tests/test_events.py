"""QueueEvents: BullMQ's events, as callbacks and as sync and async iterators."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from queuecore import EventsFollower, Job, Queue, QueueEvents, Worker
from tests.helpers import wait_for


def test_callbacks_get_bullmq_fields(queue: Queue, redis_url: str, run_worker: Any) -> None:
    events = QueueEvents(queue.name, connection=redis_url)
    got: list[dict[str, Any]] = []
    one_job: list[dict[str, Any]] = []
    events.on("*", got.append)
    thread = events.start()
    try:
        wait_for(lambda: events.last_event_id != "$")

        async def proc(job: Job) -> dict[str, int]:
            await job.aupdate_progress({"pct": 50})
            return {"sum": 3}

        job = queue.add("e", {"a": 1})
        events.on(f"completed:{job.id}", one_job.append)
        run_worker(Worker(queue.name, proc, connection=redis_url))
        wait_for(lambda: one_job)
        by_name = {e["event"]: e for e in got}
        assert by_name["added"]["name"] == "e"
        assert by_name["active"]["prev"] == "waiting"
        assert by_name["progress"]["data"] == {"pct": 50}
        assert by_name["completed"]["returnvalue"] == {"sum": 3}
        assert one_job[0]["jobId"] == job.id
        assert all("id" in e for e in got)
    finally:
        events.close()
        thread.join(5)


def test_sync_iterator_resumes_from_last_event_id(queue: Queue, redis_url: str) -> None:
    first = queue.add("a", delay=5000)
    events = QueueEvents(queue.name, connection=redis_url, last_event_id="0")
    seen = []
    for event in events:
        seen.append(event)
        if event["event"] == "delayed":
            break
    assert [e["event"] for e in seen] == ["added", "delayed"]
    assert seen[1]["delay"] > 0 and seen[1]["jobId"] == first.id
    queue.add("b")
    resumed = next(iter(events))
    assert resumed["event"] == "added" and resumed["name"] == "b"
    events.close()


def test_async_iterator(queue: Queue, redis_url: str) -> None:
    async def scenario() -> list[str]:
        events = QueueEvents(queue.name, connection=redis_url, last_event_id="0")
        await queue.aadd("x")
        names = []
        async for event in events:
            names.append(event["event"])
            if event["event"] == "waiting":
                break
        await events.aclose()
        return names

    assert asyncio.run(scenario()) == ["added", "waiting"]


def test_close_from_another_thread_stops_run(queue: Queue, redis_url: str) -> None:
    events = QueueEvents(queue.name, connection=redis_url)
    thread = threading.Thread(target=events.run)
    thread.start()
    events.close()
    thread.join(3)
    assert not thread.is_alive()


# -- EventsFollower: which of many queues changed, on one connection --------------------


def test_follower_names_the_queues_with_new_events(queue: Queue, redis_url: str) -> None:
    other = Queue(f"{queue.name}-other", connection=redis_url)
    queue.add("before")  # older than the follower: not reported

    async def scenario() -> list[set[str]]:
        follower = EventsFollower(redis_url, block_ms=200)
        follower.watch(queue.name)
        follower.watch(other.name)
        seen: list[set[str]] = []
        changes = follower.changes()
        reader = asyncio.ensure_future(changes.__anext__())
        await asyncio.sleep(0.3)  # both streams pinned, the read blocking
        await asyncio.to_thread(other.add, "x")
        seen.append(await asyncio.wait_for(reader, 5))
        follower.unwatch(other.name)
        await asyncio.to_thread(other.add, "y")  # not watched any more
        await asyncio.to_thread(queue.add, "z")
        seen.append(await asyncio.wait_for(changes.__anext__(), 5))
        await changes.aclose()
        await follower.aclose()
        return seen

    try:
        seen = asyncio.run(scenario())
    finally:
        other.obliterate(force=True)
        other.close()
    assert seen == [{other.name}, {queue.name}]


def test_follower_skips_a_key_that_is_not_a_stream(queue: Queue, redis_url: str,
                                                    r: Any) -> None:
    foreign = f"{queue.name}-foreign"
    r.set(f"bull:{foreign}:events", "not a stream")

    async def scenario() -> set[str]:
        follower = EventsFollower(redis_url, block_ms=200)
        follower.watch(foreign)
        follower.watch(queue.name)
        changes = follower.changes()
        reader = asyncio.ensure_future(changes.__anext__())
        await asyncio.sleep(0.3)
        await asyncio.to_thread(queue.add, "x")
        changed = await asyncio.wait_for(reader, 5)
        await changes.aclose()
        await follower.aclose()
        return changed

    try:
        assert asyncio.run(scenario()) == {queue.name}
    finally:
        r.delete(f"bull:{foreign}:events")
