"""Deduplication against a real Redis, mode by mode, as BullMQ 6.7.0 does it:
the key <q>:de:<id>, the job's deid, the deduplicated event, and the key's
release when the owner finishes or is removed."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
import redis

from queuecore import FlowProducer, InvalidOptionError, Job, Queue
from tests.helpers import running_worker, wait_for


def events(r: redis.Redis, queue: Queue, kind: str) -> list[dict[str, str]]:
    return [f for _, f in r.xrange(queue.keys["events"]) if f["event"] == kind]


def test_simple_mode_keeps_the_first_job(queue: Queue, r: redis.Redis) -> None:
    first = queue.add("send", {"n": 1}, deduplication={"id": "user-7"})
    second = queue.add("send", {"n": 2}, deduplication={"id": "user-7"})
    # as BullMQ's Queue.add: the job returned carries the owner's id
    assert second.id == first.id == "1"
    assert second.data == {"n": 2} and second.deduplication_id == "user-7"
    assert r.get(queue.keys["de:user-7"]) == "1"
    assert r.pttl(queue.keys["de:user-7"]) == -1
    assert r.lrange(queue.keys["wait"], 0, -1) == ["1"]
    assert r.hget(queue.keys.job("1"), "deid") == "user-7"
    assert r.exists(queue.keys.job("2")) == 0
    assert r.get(queue.keys["id"]) == "2"  # the counter moves even on a hit
    assert events(r, queue, "deduplicated") == [{
        "event": "deduplicated", "jobId": "1", "deduplicationId": "user-7",
        "deduplicatedJobId": "2"}]
    assert queue.get_deduplication_job_id("user-7") == "1"
    stored = queue.get_job("1")
    assert stored is not None
    assert stored.deduplication_id == "user-7"
    assert stored.opts["deduplication"] == {"id": "user-7"}


def test_custom_job_id_is_the_deduplicated_id(queue: Queue, r: redis.Redis) -> None:
    queue.add("a", deduplication={"id": "d"}, job_id="first")
    again = queue.add("a", deduplication={"id": "d"}, job_id="second")
    assert again.id == "first"
    assert events(r, queue, "deduplicated")[0]["deduplicatedJobId"] == "second"


def test_throttle_mode_frees_the_id_after_the_ttl(queue: Queue, r: redis.Redis) -> None:
    first = queue.add("a", deduplication={"id": "t", "ttl": 300})
    assert 0 < r.pttl(queue.keys["de:t"]) <= 300
    assert queue.add("a", deduplication={"id": "t", "ttl": 300}).id == first.id
    wait_for(lambda: r.exists(queue.keys["de:t"]) == 0, timeout=3, what="ttl expiry")
    third = queue.add("a", deduplication={"id": "t", "ttl": 300})
    assert third.id != first.id
    assert sorted(r.lrange(queue.keys["wait"], 0, -1)) == sorted([first.id, third.id])


def test_extend_mode_restarts_the_window_for_the_owner(queue: Queue, r: redis.Redis) -> None:
    opts = {"id": "e", "ttl": 1000, "extend": True}
    first = queue.add("a", deduplication=opts)
    time.sleep(0.5)
    assert r.pttl(queue.keys["de:e"]) < 700
    assert queue.add("a", deduplication=opts).id == first.id
    assert r.pttl(queue.keys["de:e"]) > 900  # extended again to the full ttl
    assert r.get(queue.keys["de:e"]) == first.id
    assert len(events(r, queue, "deduplicated")) == 1


def test_replace_mode_swaps_a_delayed_job(queue: Queue, r: redis.Redis) -> None:
    opts = {"id": "deb", "ttl": 60_000, "replace": True}
    old = queue.add("a", {"v": 1}, delay=5000, deduplication=opts)
    time.sleep(0.05)
    new = queue.add("a", {"v": 2}, delay=5000, deduplication=opts)
    assert new.id != old.id
    assert r.zrange(queue.keys["delayed"], 0, -1) == [new.id]
    assert r.exists(queue.keys.job(old.id)) == 0
    assert r.get(queue.keys["de:deb"]) == new.id
    # ttl without extend: the replacing job keeps what is left of the window
    assert 0 < r.pttl(queue.keys["de:deb"]) < 60_000 - 40
    assert {"event": "removed", "jobId": old.id, "prev": "delayed"} in events(r, queue, "removed")
    assert events(r, queue, "deduplicated") == [{
        "event": "deduplicated", "jobId": new.id, "deduplicationId": "deb",
        "deduplicatedJobId": old.id}]
    job = queue.get_job(new.id)
    assert job is not None and job.data == {"v": 2}


def test_replace_of_a_job_no_longer_delayed_is_a_silent_hit(queue: Queue,
                                                            r: redis.Redis) -> None:
    owner = queue.add("a", deduplication={"id": "x", "replace": True})  # in wait
    again = queue.add("a", deduplication={"id": "x", "replace": True})
    assert again.id == owner.id
    assert r.lrange(queue.keys["wait"], 0, -1) == [owner.id]
    assert events(r, queue, "deduplicated") == []  # as BullMQ 6.7.0 on this path


def test_reschedule_moves_the_delayed_owner(queue: Queue, r: redis.Redis) -> None:
    owner = queue.add("a", delay=60_000, deduplication={"id": "rs"})
    before = r.zscore(queue.keys["delayed"], owner.id)
    again = queue.add("a", delay=1000, deduplication={"id": "rs", "reschedule": True})
    assert again.id == owner.id
    after = r.zscore(queue.keys["delayed"], owner.id)
    assert after is not None and before is not None and after < before - 50_000 * 4096
    assert r.hget(queue.keys.job(owner.id), "delay") == "1000"


def test_key_freed_when_the_owner_completes_or_fails(queue: Queue, redis_url: str,
                                                     r: redis.Redis) -> None:
    done = queue.add("ok", deduplication={"id": "c"})
    failing = queue.add("bad", deduplication={"id": "f"})

    def work(job: Job) -> str:
        if job.name == "bad":
            raise RuntimeError("no")
        return "fine"

    with running_worker(queue.name, work, connection=redis_url, drain_delay=0.2):
        wait_for(lambda: r.zcard(queue.keys["completed"]) == 1
                 and r.zcard(queue.keys["failed"]) == 1, what="both finished")
    assert r.exists(queue.keys["de:c"], queue.keys["de:f"]) == 0
    assert queue.add("ok", deduplication={"id": "c"}).id != done.id
    assert queue.add("bad", deduplication={"id": "f"}).id != failing.id


def test_ttl_key_outlives_its_finished_job(queue: Queue, redis_url: str,
                                           r: redis.Redis) -> None:
    # BullMQ leaves a key with a live ttl to expire, also when the job is not kept
    owner = queue.add("ok", deduplication={"id": "t", "ttl": 30_000}, remove_on_complete=True)
    with running_worker(queue.name, lambda job: 1, connection=redis_url, drain_delay=0.2):
        wait_for(lambda: r.exists(queue.keys.job(owner.id)) == 0, what="job removed")
    assert r.get(queue.keys["de:t"]) == owner.id
    assert queue.add("ok", deduplication={"id": "t", "ttl": 30_000}).id == owner.id


def test_retry_keeps_the_key(queue: Queue, redis_url: str, r: redis.Redis) -> None:
    seen = threading.Event()

    def flaky(job: Job) -> str:
        if job.attempts_made == 0:
            raise RuntimeError("once")
        seen.set()
        assert r.get(queue.keys["de:k"]) == job.id  # still owned while retried
        return "ok"

    owner = queue.add("a", deduplication={"id": "k"}, attempts=2)
    with running_worker(queue.name, flaky, connection=redis_url, drain_delay=0.2):
        wait_for(lambda: r.zcard(queue.keys["completed"]) == 1, what="completed")
    assert seen.is_set() and owner.id
    assert r.exists(queue.keys["de:k"]) == 0


def test_removal_frees_the_key_of_its_owner(queue: Queue, r: redis.Redis) -> None:
    owner = queue.add("a", deduplication={"id": "rm"})
    assert queue.remove(owner.id)
    assert r.exists(queue.keys["de:rm"]) == 0
    # a key owned by another job is left alone
    newer = queue.add("a", deduplication={"id": "rm"})
    r.set(queue.keys["de:rm"], "someone-else")
    assert queue.remove(newer.id)
    assert r.get(queue.keys["de:rm"]) == "someone-else"


def test_remove_deduplication_key(queue: Queue, r: redis.Redis) -> None:
    owner = queue.add("a", deduplication={"id": "k"})
    other = queue.add("a", deduplication={"id": "k2"})
    r.set(queue.keys["de:k2"], "not-it")
    assert other.remove_deduplication_key() is False  # not the owner any more
    assert r.get(queue.keys["de:k2"]) == "not-it"
    assert owner.remove_deduplication_key() is True
    assert queue.get_deduplication_job_id("k") is None
    assert queue.remove_deduplication_key("k2") is True
    assert queue.remove_deduplication_key("k2") is False
    plain = queue.add("a")
    assert plain.remove_deduplication_key() is False
    assert queue.add("a", deduplication={"id": "k"}).id not in (owner.id, other.id)


def test_stale_key_of_a_vanished_owner_is_recovered(queue: Queue, r: redis.Redis) -> None:
    r.set(queue.keys["de:s"], "gone")  # no ttl, no such job
    job = queue.add("a", deduplication={"id": "s"})
    assert job.id != "gone"
    assert r.get(queue.keys["de:s"]) == job.id
    assert events(r, queue, "deduplicated") == []


def test_add_bulk_deduplicates_within_the_batch(queue: Queue, r: redis.Redis) -> None:
    jobs = queue.add_bulk([
        {"name": "a", "data": {"i": i}, "opts": {"deduplication": {"id": "b"}}}
        for i in range(3)])
    assert [j.id for j in jobs] == ["1", "1", "1"]
    assert r.llen(queue.keys["wait"]) == 1
    assert len(events(r, queue, "deduplicated")) == 2


def test_keep_last_if_active_adds_the_last_one_after_the_owner(queue: Queue, redis_url: str,
                                                              r: redis.Redis) -> None:
    release = threading.Event()
    started = threading.Event()
    seen: list[Any] = []

    def work(job: Job) -> None:
        seen.append(job.data)
        if job.data["v"] == 1:
            started.set()
            release.wait(10)

    opts = {"id": "kl", "keep_last_if_active": True}
    owner = queue.add("a", {"v": 1}, deduplication=opts)
    with running_worker(queue.name, work, connection=redis_url, drain_delay=0.2):
        assert started.wait(10)
        assert queue.add("a", {"v": 2}, deduplication=opts).id == owner.id
        assert queue.add("a", {"v": 3}, deduplication=opts).id == owner.id
        next_key = queue.keys["dn:kl"]
        assert r.hget(next_key, "data") == '{"v":3}'
        assert r.hget(next_key, "jid") == "3"
        assert len(events(r, queue, "deduplicated")) == 2
        release.set()
        wait_for(lambda: r.zcard(queue.keys["completed"]) == 2, what="both completed")
    assert seen == [{"v": 1}, {"v": 3}]
    assert r.exists(queue.keys["dn:kl"]) == 0
    assert r.zrange(queue.keys["completed"], 0, -1) == [owner.id, "3"]
    assert r.exists(queue.keys["de:kl"]) == 0  # the requeued job finished too


BAD = [
    ({"ttl": 10}, "deduplication['id'] must be a non-empty string"),
    ({"id": ""}, "deduplication['id'] must be a non-empty string"),
    ({"id": 5}, "deduplication['id'] must be a non-empty string"),
    ("key", "deduplication must be a dict"),
    ({"id": "a", "ttl": -1}, "deduplication['ttl'] must be at least 1 ms"),
    ({"id": "a", "ttl": "1s"}, "deduplication['ttl'] must be a number of milliseconds"),
    ({"id": "a", "extend": True}, "deduplication['extend'] needs a ttl"),
    ({"id": "a", "replace": 1}, "deduplication['replace'] must be True or False"),
    ({"id": "a", "keepLastIfActive": True}, "'keepLastIfActive' is spelled "
                                            "'keep_last_if_active'"),
    ({"id": "a", "debounce": True}, "deduplication accepts id, ttl"),
]


@pytest.mark.parametrize(("value", "message"), BAD)
def test_bad_deduplication_options_store_nothing(queue: Queue, r: redis.Redis, value: Any,
                                                 message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message.replace("[", r"\[").replace("(", r"\(")):
        queue.add("a", deduplication=value)
    assert r.keys(queue.keys.base + "*") == []


def test_deduplication_with_a_parent_is_refused(queue: Queue, r: redis.Redis,
                                                redis_url: str) -> None:
    with pytest.raises(InvalidOptionError, match="deduplication and parent"):
        queue.add("a", deduplication={"id": "p"},
                  parent={"id": "x", "queue": queue.keys.qualified})
    flows = FlowProducer(redis_url)
    try:
        child = {"name": "c", "queue_name": queue.name, "opts": {"deduplication": {"id": "c"}}}
        with pytest.raises(InvalidOptionError, match="deduplication and parent"):
            flows.add({"name": "p", "queue_name": queue.name, "children": [child]})
        with pytest.raises(InvalidOptionError, match="deduplicated"):
            flows.add({"name": "p", "queue_name": queue.name,
                       "opts": {"deduplication": {"id": "p"}},
                       "children": [{"name": "c", "queue_name": queue.name}]})
    finally:
        flows.close()
    assert r.keys(queue.keys.base + "*") == []


def test_async_twins(queue: Queue, r: redis.Redis) -> None:
    async def main() -> None:
        owner = await queue.aadd("a", deduplication={"id": "as"})
        assert (await queue.aget_deduplication_job_id("as")) == owner.id
        assert await owner.aremove_deduplication_key()
        assert not await queue.aremove_deduplication_key("as")
        await queue.connection.aclose()

    asyncio.run(main())
    with pytest.raises(InvalidOptionError, match="non-empty string"):
        queue.get_deduplication_job_id("")
