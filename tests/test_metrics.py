"""Worker metrics against a real Redis: per-minute counts of completed and
failed jobs in <q>:metrics:<kind> (+ :data), exactly as BullMQ's
collectMetrics.lua keeps them. Minutes passing are simulated by moving the
hash's prevTS back rather than by sleeping."""

from __future__ import annotations

import asyncio
import threading

import pytest
import redis

from queuecore import InvalidOptionError, Job, Queue, Worker
from tests.helpers import running_worker, wait_for

MINUTE = 60_000


def finish(queue: Queue, redis_url: str, r: redis.Redis, count: int, *, fail: bool = False,
           max_points: int = 10, concurrency: int = 1, attempts: int | None = None) -> None:
    """Add ``count`` jobs and let a metrics worker finish them all."""
    target = "failed" if fail else "completed"
    before = r.zcard(queue.keys[target])
    queue.add_bulk([{"name": "bad" if fail else "ok",
                     "opts": {"attempts": attempts} if attempts else {}}] * count)

    def work(job: Job) -> str:
        if job.name == "bad":
            raise RuntimeError("no")
        return "ok"

    with running_worker(queue.name, work, connection=redis_url, drain_delay=0.2,
                        concurrency=concurrency, metrics={"max_data_points": max_points}):
        wait_for(lambda: r.zcard(queue.keys[target]) == before + count, what=f"{target} jobs")


def move_back(r: redis.Redis, queue: Queue, kind: str, minutes: int) -> int:
    """Pretend the last data point was taken ``minutes`` minutes ago."""
    key = queue.keys["metrics:" + kind]
    prev = int(r.hget(key, "prevTS") or 0) - minutes * MINUTE
    r.hset(key, "prevTS", prev)
    return prev


def crossed(r: redis.Redis, queue: Queue, old: int) -> int:
    """Minutes between the moved-back prevTS and the one the last finish wrote."""
    return int(r.hget(queue.keys["metrics:completed"], "prevTS")) // MINUTE - old // MINUTE


def test_first_minute_counts_without_data_points(queue: Queue, redis_url: str,
                                                 r: redis.Redis) -> None:
    finish(queue, redis_url, r, 3)
    metrics = queue.get_metrics("completed")
    assert metrics["meta"]["count"] == 3
    assert metrics["meta"]["prev_count"] == 0
    assert abs(metrics["meta"]["prev_ts"] - int(r.time()[0]) * 1000) < 60_000
    assert metrics["data"] == [] and metrics["count"] == 0
    assert r.exists(queue.keys["metrics:failed"]) == 0


def test_counts_across_minute_boundaries(queue: Queue, redis_url: str, r: redis.Redis) -> None:
    finish(queue, redis_url, r, 3)
    old = move_back(r, queue, "completed", 3)
    finish(queue, redis_url, r, 1)
    key = queue.keys["metrics:completed"]
    new = int(r.hget(key, "prevTS"))
    minutes = new // MINUTE - old // MINUTE  # 3, or 4 if a minute ended meanwhile
    # the 3 jobs before this one make the oldest new point, idle minutes are zeros on top
    expected = [0] * (minutes - 1) + [3]
    assert queue.get_metrics("completed") == {
        "meta": {"count": 4, "prev_ts": new, "prev_count": 3},
        "data": expected, "count": len(expected)}
    # a minute later: one more job since prevCount=3 (the second one is in this minute)
    old = move_back(r, queue, "completed", 1)
    finish(queue, redis_url, r, 2)
    newer = [0] * (crossed(r, queue, old) - 1) + [1]
    metrics = queue.get_metrics("completed")
    assert metrics["data"] == newer + expected
    assert metrics["meta"]["count"] == 6 and metrics["meta"]["prev_count"] == 4
    assert queue.get_metrics("completed", 0, len(newer) - 1)["data"] == newer
    assert queue.get_metrics("completed", len(newer), -1)["data"] == expected


def test_data_points_are_capped(queue: Queue, redis_url: str, r: redis.Redis) -> None:
    finish(queue, redis_url, r, 2, max_points=3)
    move_back(r, queue, "completed", 100)
    finish(queue, redis_url, r, 1, max_points=3)
    # min(100 minutes, 3 points): two idle zeros, then the 2 jobs' point
    assert queue.get_metrics("completed")["data"] == [0, 0, 2]
    old = move_back(r, queue, "completed", 2)
    finish(queue, redis_url, r, 1, max_points=3)
    assert queue.get_metrics("completed")["data"] == (
        [0] * (crossed(r, queue, old) - 1) + [1, 0, 0])[:3]


def test_failed_counts_only_final_failures(queue: Queue, redis_url: str,
                                           r: redis.Redis) -> None:
    finish(queue, redis_url, r, 2, fail=True, attempts=2)  # 4 attempts, 2 failures
    assert queue.get_metrics("failed")["meta"]["count"] == 2
    assert queue.get_metrics("completed")["meta"]["count"] == 0


def test_a_batch_counts_every_job(queue: Queue, redis_url: str, r: redis.Redis) -> None:
    # concurrency 8: one move_to_finished call finishes several jobs
    finish(queue, redis_url, r, 40, concurrency=8)
    assert queue.get_metrics("completed")["meta"]["count"] == 40


def test_no_metrics_without_the_option(queue: Queue, redis_url: str, r: redis.Redis) -> None:
    queue.add("ok")
    with running_worker(queue.name, lambda job: 1, connection=redis_url, drain_delay=0.2):
        wait_for(lambda: r.zcard(queue.keys["completed"]) == 1, what="completed")
    assert r.keys(queue.keys.base + "metrics*") == []
    assert queue.get_metrics("completed") == {
        "meta": {"count": 0, "prev_ts": 0, "prev_count": 0}, "data": [], "count": 0}


@pytest.mark.parametrize("metrics", [{"max_data_points": 0}, {"max_data_points": "5"},
                                     {"maxDataPoints": 5}, 5, {}])
def test_bad_metrics_option(metrics: object) -> None:
    with pytest.raises(InvalidOptionError, match="metrics"):
        Worker("q", lambda job: 1, metrics=metrics)  # type: ignore[arg-type]


def test_get_metrics_arguments_and_async(queue: Queue, r: redis.Redis) -> None:
    with pytest.raises(InvalidOptionError, match="'completed' or 'failed'"):
        queue.get_metrics("active")
    with pytest.raises(InvalidOptionError, match="end must be an integer"):
        queue.get_metrics("failed", 0, "x")  # type: ignore[arg-type]
    key = queue.keys["metrics:failed"]
    r.hset(key, mapping={"count": 9, "prevTS": 120_000, "prevCount": 5})
    r.rpush(key + ":data", 4, 0, 7)
    done = threading.Event()

    async def main() -> None:
        assert (await queue.aget_metrics("failed", 1)) == {
            "meta": {"count": 9, "prev_ts": 120_000, "prev_count": 5}, "data": [0, 7],
            "count": 3}
        await queue.connection.aclose()
        done.set()

    asyncio.run(main())
    assert done.is_set()
