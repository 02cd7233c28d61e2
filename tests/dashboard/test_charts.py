"""The queue page's charts: per-minute completed and failed counts from
BullMQ's metrics keys (or the finished sets without them), and wait and run
time percentiles, drawn as SVG."""

from __future__ import annotations

import time

import redis
from django.test import Client

from dashboard.charts import MINUTES, queue_charts
from queuecore import Queue


def finish(r: redis.Redis, queue: Queue, job_id: str, state: str, added: int, started: int,
           finished: int) -> None:
    r.hset(queue.keys.job(job_id), mapping={"timestamp": added, "delay": 0,
                                            "processedOn": started, "finishedOn": finished})
    r.zadd(queue.keys[state], {job_id: finished})


def test_counts_per_minute_from_the_finished_sets(queue: Queue, redis_url: str,
                                                  r: redis.Redis) -> None:
    now = int(time.time() * 1000)
    minute = now // 60_000 * 60_000
    for i in range(4):  # four completed this minute: wait 100 ms, run 10 * (i + 1) ms
        finish(r, queue, f"c{i}", "completed", minute, minute + 100, minute + 110 + 10 * i)
    finish(r, queue, "f0", "failed", minute - 60_000, minute - 59_000, minute - 58_000)
    charts = queue_charts(queue, now)
    assert charts.source == "finished jobs"
    assert len(charts.completed) == MINUTES
    assert charts.completed[-1] == 4 and charts.failed[-2] == 1
    assert charts.total_completed == 4 and charts.total_failed == 1
    assert charts.wait_ms[50] == 100
    assert charts.run_ms[50] == 25 and charts.run_ms[99] > charts.run_ms[50]
    tallest = max(charts.bars, key=lambda b: b.completed_h + b.failed_h)
    assert tallest.completed == 4 and tallest.completed_y >= 0


def test_counts_from_bullmq_metrics_keys(queue: Queue, redis_url: str, r: redis.Redis) -> None:
    now = int(time.time() * 1000)
    prev_ts = now - 2 * 60_000  # last finish two minutes ago
    base = queue.keys["metrics:completed"]
    r.hset(base, mapping={"count": 57, "prevTS": prev_ts, "prevCount": 50})
    r.rpush(base + ":data", 11, 0, 22)  # newest first: minute before prevTS's, and older
    charts = queue_charts(queue, now)
    assert charts.source == "metrics"
    assert charts.completed[-3] == 7  # prevTS's minute so far: count - prevCount
    assert charts.completed[-4] == 11 and charts.completed[-5] == 0
    assert charts.completed[-6] == 22
    assert charts.completed[-2:] == [0, 0]  # nothing finished since


def test_queue_page_draws_the_charts(operator: Client, queue: Queue, r: redis.Redis) -> None:
    now = int(time.time() * 1000)
    finish(r, queue, "c1", "completed", now - 500, now - 300, now - 100)
    page = operator.get(f"/admin/queues/{queue.name}/").content.decode()
    assert '<section id="charts"' in page and "<svg" in page
    assert 'class="completed"' in page
    assert "1 completed" in page and "from finished jobs" in page
