"""Queue and Job operations: what lands in Redis, in BullMQ's layout."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import redis

from queuecore import JobNotInStateError, Queue


def events(r: redis.Redis, queue: Queue) -> list[dict[str, str]]:
    return [fields for _id, fields in r.xrange(queue.keys["events"])]


def test_add_stores_bullmq_hash_and_events(queue: Queue, r: redis.Redis) -> None:
    job = queue.add("send", {"to": "ada@example.com", "n": 1}, attempts=3)
    raw = r.hgetall(queue.keys.job(job.id))
    assert raw["name"] == "send"
    assert json.loads(raw["data"]) == {"to": "ada@example.com", "n": 1}
    assert json.loads(raw["opts"]) == {"attempts": 3}
    assert raw["delay"] == "0" and raw["priority"] == "0"
    assert abs(int(raw["timestamp"]) - time.time() * 1000) < 5000
    assert r.lrange(queue.keys["wait"], 0, -1) == [job.id]
    assert r.zrange(queue.keys["marker"], 0, -1, withscores=True) == [("0", 0.0)]
    assert [e["event"] for e in events(r, queue)] == ["added", "waiting"]
    assert r.hget(queue.keys["meta"], "opts.maxLenEvents") == "10000"


def test_auto_ids_increment_and_custom_id_is_not_overwritten(queue: Queue, r: redis.Redis) -> None:
    assert [queue.add("a").id, queue.add("b").id] == ["1", "2"]
    first = queue.add("c", {"v": 1}, job_id="order-7")
    again = queue.add("c", {"v": 2}, job_id="order-7")
    assert first.id == again.id == "order-7"
    assert json.loads(r.hget(queue.keys.job("order-7"), "data")) == {"v": 1}
    assert events(r, queue)[-1] == {"event": "duplicated", "jobId": "order-7"}


def test_delayed_job_score_marker_and_event(queue: Queue, r: redis.Redis) -> None:
    job = queue.add("later", {}, delay=timedelta(seconds=60), timestamp=1_700_000_000_000)
    due = 1_700_000_000_000 + 60_000
    assert r.zscore(queue.keys["delayed"], job.id) == due * 4096
    second = queue.add("later", {}, delay=60_000, timestamp=1_700_000_000_000)
    assert r.zscore(queue.keys["delayed"], second.id) == due * 4096 + 1
    assert r.zscore(queue.keys["marker"], "1") == due
    assert events(r, queue)[1] == {"event": "delayed", "jobId": job.id, "delay": str(due)}
    assert job.get_state() == "delayed"


def test_priorities_order_and_lifo(queue: Queue) -> None:
    low = queue.add("low", priority=10)
    high = queue.add("high", priority=1)
    high2 = queue.add("high2", priority=1)
    plain = queue.add("plain")
    lifo = queue.add("lifo", lifo=True)
    assert low.get_state() == "prioritized"
    waiting = [j.id for j in queue.get_jobs("waiting", asc=True)]
    assert waiting == [lifo.id, plain.id]  # next to run first
    prioritized = [j.id for j in queue.get_jobs("prioritized", asc=True)]
    assert prioritized == [high.id, high2.id, low.id]


def test_add_bulk_in_one_call(queue: Queue) -> None:
    jobs = queue.add_bulk([{"name": "a", "data": {"i": 1}}, {"name": "b", "data": {"i": 2},
                                                            "opts": {"priority": 3}}])
    assert [j.name for j in jobs] == ["a", "b"]
    assert queue.get_job_counts("waiting", "prioritized") == {"waiting": 1, "prioritized": 1}
    with pytest.raises(ValueError, match="unknown job option 'removeOnComplete'"):
        queue.add_bulk([{"name": "ok"}, {"name": "bad", "opts": {"removeOnComplete": True}}])
    assert queue.count() == 2  # nothing of the bad batch was written


def test_get_job_reads_back_fields(queue: Queue) -> None:
    job = queue.add("x", {"a": [1, 2]}, priority=4, attempts=2,
                    backoff={"type": "exponential", "delay": 100, "jitter": 0.5},
                    remove_on_complete={"age": 3600, "count": 10}, keep_logs=5)
    got = queue.get_job(job.id)
    assert got is not None
    assert (got.name, got.data, got.priority, got.attempts_made) == ("x", {"a": [1, 2]}, 4, 0)
    assert got.opts == {"attempts": 2, "priority": 4, "keep_logs": 5,
                        "backoff": {"type": "exponential", "delay": 100, "jitter": 0.5},
                        "remove_on_complete": {"age": 3600, "count": 10}}
    assert queue.get_job("nope") is None


def test_counts_and_get_jobs_ordering(queue: Queue) -> None:
    ids = [queue.add("j", {"i": i}).id for i in range(5)]
    assert queue.get_job_counts()["waiting"] == 5
    assert queue.count() == 5
    assert [j.id for j in queue.get_jobs(["waiting"])] == ids[::-1]  # newest first
    assert [j.id for j in queue.get_jobs(["waiting"], 0, 1, asc=True)] == ids[:2]
    assert [j.id for j in queue.get_jobs(["waiting"], 0, 1)] == ids[:-3:-1]


def test_progress_logs_and_data(queue: Queue, r: redis.Redis) -> None:
    job = queue.add("p", {"v": 1}, keep_logs=2)
    job.update_progress(42)
    job.update_progress({"step": "resize", "pct": 50})
    assert events(r, queue)[-1] == {"event": "progress", "jobId": job.id,
                                    "data": '{"step":"resize","pct":50}'}
    for line in ("one", "two", "three"):
        job.log(line)
    assert queue.get_job_logs(job.id) == {"logs": ["two", "three"], "count": 2}
    job.update_data({"v": 2})
    fresh = queue.get_job(job.id)
    assert fresh is not None and fresh.data == {"v": 2}
    assert fresh.progress == {"step": "resize", "pct": 50}


def test_pause_resume(queue: Queue, r: redis.Redis) -> None:
    queue.add("a")
    queue.pause()
    assert queue.is_paused()
    assert r.exists(queue.keys["marker"]) == 0
    queue.add("b")  # adds still go to wait, without the marker
    assert r.exists(queue.keys["marker"]) == 0
    assert queue.get_job_counts("waiting")["waiting"] == 2
    queue.resume()
    assert not queue.is_paused()
    assert r.zscore(queue.keys["marker"], "0") == 0
    assert [e["event"] for e in events(r, queue)][-1] == "resumed"


def test_resume_moves_legacy_paused_list(queue: Queue, r: redis.Redis) -> None:
    # a queue paused by BullMQ v5 kept its jobs in a "paused" list
    job = queue.add("old")
    r.rename(queue.keys["wait"], queue.keys["paused"])
    r.hset(queue.keys["meta"], "paused", 1)
    assert job.get_state() == "waiting"
    queue.resume()
    assert r.lrange(queue.keys["wait"], 0, -1) == [job.id]
    assert not r.exists(queue.keys["paused"])


def test_drain_keeps_delayed_unless_asked(queue: Queue) -> None:
    queue.add("a")
    queue.add("b", priority=2)
    delayed = queue.add("c", delay=10_000)
    assert queue.drain() == 2
    assert queue.get_job_counts("waiting", "prioritized", "delayed") == {
        "waiting": 0, "prioritized": 0, "delayed": 1}
    assert queue.drain(delayed=True) == 1
    assert queue.get_job(delayed.id) is None


def test_promote_job_and_promote_jobs(queue: Queue, r: redis.Redis) -> None:
    a = queue.add("a", delay=60_000)
    b = queue.add("b", delay=60_000, priority=3)
    c = queue.add("c", delay=60_000)
    a.promote()
    assert a.get_state() == "waiting"
    assert r.hget(queue.keys.job(a.id), "delay") == "0"
    b.promote()
    assert b.get_state() == "prioritized"
    with pytest.raises(JobNotInStateError):
        a.promote()
    assert queue.promote_jobs() == 1
    assert c.get_state() == "waiting"


def test_change_delay_and_priority(queue: Queue, r: redis.Redis) -> None:
    job = queue.add("d", delay=60_000)
    before = int(time.time() * 1000)
    job.change_delay(120_000)
    due = r.zscore(queue.keys["delayed"], job.id) // 4096
    assert before + 120_000 <= due <= time.time() * 1000 + 120_000
    waiting = queue.add("w")
    waiting.change_priority(7)
    assert waiting.get_state() == "prioritized"
    assert r.hget(queue.keys.job(waiting.id), "priority") == "7"
    waiting.change_priority(0)
    assert waiting.get_state() == "waiting"
    with pytest.raises(JobNotInStateError):
        waiting.change_delay(10)


def test_remove(queue: Queue, r: redis.Redis) -> None:
    job = queue.add("gone")
    job.log("a line")
    assert queue.remove(job.id) is True
    assert not r.exists(queue.keys.job(job.id), queue.keys.job(job.id) + ":logs")
    assert r.llen(queue.keys["wait"]) == 0
    assert events(r, queue)[-1] == {"event": "removed", "jobId": job.id, "prev": "wait"}
    assert queue.remove("missing") is False


def test_clean_by_age_with_limit(queue: Queue, r: redis.Redis) -> None:
    old = [queue.add("old", timestamp=1_000).id for _ in range(3)]
    fresh = queue.add("fresh").id
    removed = queue.clean(60_000, 2, "wait")
    assert len(removed) == 2 and set(removed) <= set(old)
    removed += queue.clean(timedelta(minutes=1), 0, "waiting")
    assert sorted(removed) == sorted(old)
    assert r.lrange(queue.keys["wait"], 0, -1) == [fresh]
    assert events(r, queue)[-1]["event"] == "cleaned"
    with pytest.raises(ValueError, match="cannot clean state"):
        queue.clean(0, 0, "bogus")


def test_obliterate_removes_every_key(queue: Queue, r: redis.Redis, queue_name: str) -> None:
    queue.add("a")
    queue.add("b", delay=1000)
    queue.add("c", priority=1).log("x")
    queue.obliterate()
    assert r.keys(f"bull:{queue_name}:*") == []


def test_retry_failed_and_completed_jobs(queue: Queue, r: redis.Redis) -> None:
    job = queue.add("x")
    # finish it by hand, as a worker would have
    r.lrem(queue.keys["wait"], 0, job.id)
    r.zadd(queue.keys["failed"], {job.id: 1000})
    r.hset(queue.keys.job(job.id), mapping={"failedReason": "boom", "finishedOn": 1000,
                                            "processedOn": 900, "atm": 1})
    assert job.get_state() == "failed"
    assert queue.retry_jobs() == 1
    assert job.get_state() == "waiting"
    raw = r.hgetall(queue.keys.job(job.id))
    assert "failedReason" not in raw and "finishedOn" not in raw and raw["atm"] == "1"
    r.lrem(queue.keys["wait"], 0, job.id)
    r.zadd(queue.keys["completed"], {job.id: 1000})
    job.retry("completed", reset_attempts_made=True)
    assert job.get_state() == "waiting"
    assert "atm" not in r.hgetall(queue.keys.job(job.id))


def test_queue_name_with_colon_is_refused(redis_url: str) -> None:
    with pytest.raises(ValueError, match="contains ':'"):
        Queue("a:b", connection=redis_url)


def test_get_jobs_summary_leaves_out_data(queue: Queue) -> None:
    queue.add("big", {"blob": "x" * 100_000}, attempts=2)
    (job,) = queue.get_jobs("waiting", summary=True)
    assert job.name == "big" and job.data == {} and job.opts["attempts"] == 2
    assert "data" not in job.raw and job.timestamp > 0
    (full,) = queue.get_jobs("waiting")
    assert len(full.data["blob"]) == 100_000


def test_the_job_an_add_returns_has_every_attribute_as_read_back(queue: Queue) -> None:
    from queuecore import Job

    for added in (queue.add("plain", {"a": 1}),
                  queue.add("opts", None, job_id="custom", priority=3, attempts=2, delay=50)):
        read = queue.get_job(added.id)
        assert read is not None
        for slot in Job.__slots__:
            if slot in ("raw", "queue"):
                continue
            assert getattr(added, slot) == getattr(read, slot), slot
