"""Job schedulers: upsert, read, remove, cron (seconds, time zones, DST), and
workers adding each next iteration. Node interop is in tests/interop/test_schedulers.py."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from queuecore import InvalidOptionError, JobScheduler, Queue, ScriptError, Worker
from queuecore.cron import next_run

from .helpers import wait_for


def ms(*args: int, tz: Any = UTC) -> int:
    return int(datetime(*args, tzinfo=tz).timestamp() * 1000)


def iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def runs(pattern: str, tz: str | None, after: int, n: int) -> list[str]:
    out = []
    for _ in range(n):
        after = next_run(pattern, tz, after)  # type: ignore[assignment]
        out.append(iso(after))
    return out


class Seen:
    """Job ids a worker processed, in order."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, job: Any) -> str:
        with self.lock:
            self.ids.append(job.id)
        return job.id

    def __len__(self) -> int:
        with self.lock:
            return len(self.ids)


def opts_of(r: redis.Redis, queue_name: str, job_id: str) -> dict[str, Any]:
    return json.loads(r.hget(f"bull:{queue_name}:{job_id}", "opts") or "{}")


# -- cron ------------------------------------------------------------------------------


def test_cron_six_fields_put_seconds_first() -> None:
    start = ms(2026, 1, 5, 9, 0, 0)
    assert runs("*/20 * * * * *", None, start, 3) == [
        "2026-01-05T09:00:20Z", "2026-01-05T09:00:40Z", "2026-01-05T09:01:00Z"]
    # 5 fields: minute first, runs on the minute
    assert runs("*/20 * * * *", None, start, 2) == ["2026-01-05T09:20:00Z", "2026-01-05T09:40:00Z"]
    assert runs("30 15 10 * * *", None, start, 1) == ["2026-01-05T10:15:30Z"]
    # strictly after: a start on a matching second moves on
    assert next_run("0 0 9 * * *", None, start) == ms(2026, 1, 6, 9)
    assert next_run("0 0 9 * * *", None, start - 1) == start
    assert runs("@weekdays", None, ms(2026, 1, 9, 12), 2) == [  # Friday -> Mon, Tue
        "2026-01-12T00:00:00Z", "2026-01-13T00:00:00Z"]


# Expected values were computed with Node BullMQ 6.7.0's cron-parser 5.10.3
# (tests/interop/test_schedulers.py checks more against it live).
def test_cron_across_new_york_spring_forward() -> None:
    tz = "America/New_York"  # 2026-03-08 02:00 EST -> 03:00 EDT
    start = ms(2026, 3, 7, 12)
    # 09:00 local each day: 14:00Z in EST, 13:00Z in EDT (23 h apart across the change)
    assert runs("0 0 9 * * *", tz, start, 3) == [
        "2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z"]
    # 02:30 does not exist on the 8th: it runs at 03:30 EDT (07:30Z), then 02:30 EDT
    assert runs("0 30 2 * * *", tz, start, 3) == [
        "2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"]
    # hourly: 01:00 EST is followed by 03:00 EDT, one real hour later
    assert runs("0 0 * * * *", tz, ms(2026, 3, 8, 5, 30), 3) == [
        "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"]
    # with seconds, in the last minute before the change
    assert runs("*/20 59 1 * * *", tz, start, 4) == [
        "2026-03-08T06:59:00Z", "2026-03-08T06:59:20Z", "2026-03-08T06:59:40Z",
        "2026-03-09T05:59:00Z"]


def test_cron_across_new_york_fall_back() -> None:
    tz = "America/New_York"  # 2026-11-01 02:00 EDT -> 01:00 EST: 01:xx happens twice
    assert runs("0 0 * * * *", tz, ms(2026, 11, 1, 4), 4) == [
        "2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z",
        "2026-11-01T08:00:00Z"]
    # a daily 01:30 runs once, at the first 01:30 (EDT)
    assert runs("0 30 1 * * *", tz, ms(2026, 10, 31, 12), 2) == [
        "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]


def test_cron_without_tz_is_utc() -> None:
    assert next_run("0 0 9 * * *", None, ms(2026, 7, 1)) == ms(2026, 7, 1, 9)
    assert next_run("0 0 9 * * *", "Europe/Paris", ms(2026, 7, 1)) == ms(2026, 7, 1, 7)


def test_pattern_scheduler_iteration_is_the_next_cron_time(queue: Queue, r: redis.Redis,
                                                            queue_name: str) -> None:
    job = queue.upsert_job_scheduler("secs", {"pattern": "*/10 * * * * *", "tz": "Asia/Tokyo"},
                                     {"name": "tick", "data": {"n": 1}})
    millis = int(job.id.split(":")[2])
    assert job.id == f"repeat:secs:{millis}"
    assert millis % 10_000 == 0 and 0 < millis - time.time() * 1000 <= 10_000
    assert job.name == "tick" and job.data == {"n": 1} and job.scheduler_id == "secs"
    assert r.zscore(f"bull:{queue_name}:delayed", job.id) is not None
    opts = opts_of(r, queue_name, job.id)
    assert opts["prevMillis"] == millis and opts["repeatJobKey"] == "secs"
    assert opts["jobId"] == job.id and opts["delay"] == job.delay
    assert opts["repeat"] == {"pattern": "*/10 * * * * *", "tz": "Asia/Tokyo", "count": 1}
    assert "attempts" not in opts  # as Node: template opts only
    assert r.hgetall(f"bull:{queue_name}:repeat:secs") == {
        "name": "tick", "pattern": "*/10 * * * * *", "tz": "Asia/Tokyo", "offset": "0",
        "data": '{"n":1}', "ic": "1"}
    assert r.zscore(f"bull:{queue_name}:repeat", "secs") == millis


def test_immediately_runs_a_pattern_now(queue: Queue, queue_name: str, r: redis.Redis) -> None:
    job = queue.upsert_job_scheduler("now", {"pattern": "0 0 1 1 *", "immediately": True})
    assert job.delay == 0
    assert r.lrange(f"bull:{queue_name}:wait", 0, -1) == [job.id]


# -- workers ---------------------------------------------------------------------------


def test_every_fires_repeatedly_with_a_worker(queue: Queue, queue_name: str, redis_url: str,
                                              r: redis.Redis, run_worker: Any) -> None:
    first = queue.upsert_job_scheduler("beat", {"every": 300}, {"name": "beat",
                                                                "data": {"x": 1}})
    assert first.delay == 0  # an every scheduler fires at once
    seen = Seen()
    run_worker(Worker(queue_name, seen, connection=redis_url, drain_delay=1))
    wait_for(lambda: len(seen) >= 4, timeout=10, what="four iterations")
    ids = seen.ids[:4]
    times = [int(i.split(":")[2]) for i in ids]
    assert ids[0] == first.id
    assert [b - a for a, b in itertools.pairwise(times)] == [300, 300, 300]
    counts = [opts_of(r, queue_name, i)["repeat"]["count"] for i in ids]
    assert counts == [1, 2, 3, 4]
    second = opts_of(r, queue_name, ids[1])
    assert second["attempts"] == 0 and "prevMillis" not in second  # as Node's workers write
    assert r.hget(f"bull:{queue_name}:{ids[1]}", "rjk") == "beat"
    assert r.hget(f"bull:{queue_name}:{ids[1]}", "data") == '{"x":1}'
    assert int(r.hget(f"bull:{queue_name}:repeat:beat", "ic")) >= 4


def test_limit_stops_iterations(queue: Queue, queue_name: str, redis_url: str,
                                r: redis.Redis, run_worker: Any) -> None:
    queue.upsert_job_scheduler("three", {"every": 150, "limit": 3})
    seen = Seen()
    run_worker(Worker(queue_name, seen, connection=redis_url, drain_delay=1))
    wait_for(lambda: len(seen) >= 3, timeout=10, what="three iterations")
    time.sleep(0.8)  # several more intervals: nothing else runs
    assert len(seen) == 3
    assert queue.get_job_counts("completed", "delayed", "waiting") == {
        "completed": 3, "delayed": 0, "waiting": 0}
    assert r.hget(f"bull:{queue_name}:repeat:three", "ic") == "3"
    # as in BullMQ, the scheduler stays registered
    assert queue.get_job_scheduler("three").limit == 3  # type: ignore[union-attr]


def test_end_date_stops_iterations(queue: Queue, queue_name: str, redis_url: str,
                                   run_worker: Any) -> None:
    end = int(time.time() * 1000) + 700
    queue.upsert_job_scheduler("ending", {"every": 200, "end_date": end})
    seen = Seen()
    run_worker(Worker(queue_name, seen, connection=redis_url, drain_delay=1))
    wait_for(lambda: time.time() * 1000 > end + 600, timeout=5, what="the end date")
    done = len(seen)
    assert 3 <= done <= 5
    time.sleep(0.6)
    assert len(seen) == done
    assert queue.get_job_counts("delayed", "waiting") == {"delayed": 0, "waiting": 0}
    # an iteration starts only while now <= end_date (it may be due just after it)
    assert all(int(i.split(":")[2]) <= end + 200 for i in seen.ids)


def test_only_the_current_iteration_adds_the_next(queue: Queue, queue_name: str,
                                                  redis_url: str, r: redis.Redis,
                                                  run_worker: Any) -> None:
    # a retried iteration that starts again must not add another one
    queue.upsert_job_scheduler("retry", {"every": 60_000},
                               {"opts": {"attempts": 3, "backoff": 10}})
    calls = Seen()

    def flaky(job: Any) -> None:
        calls(job)
        if job.attempts_made < 2:
            raise RuntimeError("again")

    run_worker(Worker(queue_name, flaky, connection=redis_url, drain_delay=1))
    wait_for(lambda: queue.get_job_counts("completed")["completed"] == 1, what="completion")
    assert len(calls) == 3
    assert queue.get_job_counts("delayed") == {"delayed": 1}
    assert r.hget(f"bull:{queue_name}:repeat:retry", "ic") == "2"


def test_v5_repeatable_data_is_reported_and_the_job_still_runs(
        queue: Queue, queue_name: str, redis_url: str, r: redis.Redis,
        run_worker: Any) -> None:
    # a v5 repeatable job: an entry in `repeat` whose hash has no `ic`
    r.zadd(f"bull:{queue_name}:repeat", {"legacy": 123})
    r.hset(f"bull:{queue_name}:repeat:legacy", mapping={"name": "old", "every": "1000"})
    job = queue.add("old", {}, job_id="repeat:legacy:123")
    r.hset(f"bull:{queue_name}:{job.id}", mapping={
        "rjk": "legacy", "opts": json.dumps({"repeat": {"every": 1000}})})
    errors: list[Exception] = []
    seen = Seen()
    worker = Worker(queue_name, seen, connection=redis_url, drain_delay=1)
    worker.on("error", errors.append)
    run_worker(worker)
    wait_for(lambda: len(seen) == 1 and errors, what="the job and the error")
    assert "no BullMQ 6 metadata" in str(errors[0]) and "'legacy'" in str(errors[0])
    assert r.zscore(f"bull:{queue_name}:repeat", "legacy") == 123  # untouched
    assert queue.get_job_counts("delayed", "waiting") == {"delayed": 0, "waiting": 0}


# -- upsert, remove, read --------------------------------------------------------------


def test_remove_removes_the_pending_delayed_iteration(queue: Queue, queue_name: str,
                                                      r: redis.Redis) -> None:
    job = queue.upsert_job_scheduler("gone", {"pattern": "0 0 9 * * *"})
    assert job.get_state() == "delayed"
    assert queue.remove_job_scheduler("gone") is True
    assert r.zcard(f"bull:{queue_name}:delayed") == 0
    assert not r.exists(f"bull:{queue_name}:{job.id}", f"bull:{queue_name}:repeat:gone")
    assert r.zcard(f"bull:{queue_name}:repeat") == 0
    events = r.xrange(f"bull:{queue_name}:events")
    assert events[-1][1] == {"event": "removed", "jobId": job.id, "prev": "delayed"}
    assert queue.remove_job_scheduler("gone") is False
    assert queue.get_job_scheduler("gone") is None


def test_the_pending_iteration_cannot_be_removed_alone(queue: Queue) -> None:
    job = queue.upsert_job_scheduler("kept", {"every": 60_000, "start_date": int(
        time.time() * 1000) + 60_000})
    with pytest.raises(ScriptError) as err:
        queue.remove(job.id)
    assert err.value.code == -8


def test_upsert_replaces_the_scheduler_and_its_pending_iteration(
        queue: Queue, queue_name: str, r: redis.Redis) -> None:
    a = queue.upsert_job_scheduler("s", {"pattern": "0 0 9 * * *"}, {"data": {"v": 1}})
    b = queue.upsert_job_scheduler("s", {"pattern": "0 30 10 * * *", "tz": "Europe/Paris"},
                                   {"name": "renamed", "data": {"v": 2}})
    assert a.id != b.id
    assert r.zrange(f"bull:{queue_name}:delayed", 0, -1) == [b.id]
    assert not r.exists(f"bull:{queue_name}:{a.id}")
    scheduler = queue.get_job_scheduler("s")
    assert scheduler is not None
    assert (scheduler.name, scheduler.pattern, scheduler.tz) == ("renamed", "0 30 10 * * *",
                                                                 "Europe/Paris")
    assert scheduler.template == {"data": {"v": 2}}
    assert scheduler.next == int(b.id.split(":")[2])
    assert queue.get_job_schedulers_count() == 1
    # every: the same interval keeps the pending iteration's time, a new one restarts
    start = int(time.time() * 1000) + 50_000
    c = queue.upsert_job_scheduler("e", {"every": 60_000, "start_date": start})
    d = queue.upsert_job_scheduler("e", {"every": 60_000, "start_date": start},
                                   {"data": {"new": True}})
    assert c.id == d.id == f"repeat:e:{start}" and d.data == {"new": True}
    e = queue.upsert_job_scheduler("e", {"every": 30_000})
    assert e.id != d.id and e.delay == 0
    assert r.hget(f"bull:{queue_name}:repeat:e", "ic") == "1"  # kept across upserts


@pytest.mark.parametrize("outcome", ["completed", "failed", "active"])
def test_upsert_after_a_promoted_iteration_ran_goes_on_from_the_next_time(
        outcome: str, queue: Queue, queue_name: str, redis_url: str, r: redis.Redis,
        run_worker: Any) -> None:
    """The demo's restart after "Promote all delayed": the cron time the promoted
    iteration had is taken by that job (running or finished), so an upsert goes
    on from the next cron time instead of failing (or losing the next iteration)."""
    pattern, tz = "0 7 * * *", "Europe/Amsterdam"
    first = queue.upsert_job_scheduler("daily", {"pattern": pattern, "tz": tz})
    due = int(first.id.split(":")[2])
    after = next_run(pattern, tz, due)
    release = threading.Event()

    def report(job: Any) -> str:
        if outcome == "active":
            release.wait(10)
        if outcome == "failed":
            raise RuntimeError("no sales today")
        return "rows"

    assert queue.promote_jobs() == 1
    run_worker(Worker(queue_name, report, connection=redis_url, drain_delay=1))
    # the worker added the iteration after the promoted one when it started it
    wait_for(lambda: queue.get_job_counts(outcome, "delayed") == {outcome: 1, "delayed": 1},
             what=f"the promoted iteration {outcome} and the next one delayed")
    try:
        again = queue.upsert_job_scheduler("daily", {"pattern": pattern, "tz": tz},
                                           {"data": {"v": 2}})
    finally:
        release.set()
    assert again.id == f"repeat:daily:{after}" and again.data == {"v": 2}
    assert r.zrange(f"bull:{queue_name}:delayed", 0, -1) == [again.id]
    assert queue.get_job_scheduler("daily").next == after  # type: ignore[union-attr]
    # the promoted iteration is left as it was
    if outcome != "active":
        assert first.get_state() == outcome
        assert r.hget(f"bull:{queue_name}:{first.id}", "finishedOn") is not None


def cron_times(pattern: str, first: int, n: int) -> list[int]:
    times = [first]
    while len(times) < n:
        times.append(next_run(pattern, None, times[-1]))  # type: ignore[arg-type]
    return times


def finish(r: redis.Redis, queue_name: str, job_id: str) -> None:
    """Make ``job_id`` a completed job (as a promoted iteration that ran is)."""
    r.zrem(f"bull:{queue_name}:delayed", job_id)
    r.hset(f"bull:{queue_name}:{job_id}", mapping={"name": "s", "data": "{}", "opts": "{}",
                                                   "finishedOn": 1})
    r.zadd(f"bull:{queue_name}:completed", {job_id: 1})


def test_upsert_skips_cron_times_whose_iterations_exist(queue: Queue, queue_name: str,
                                                        r: redis.Redis) -> None:
    """A scheduler that points at a finished iteration (its next one was never
    added) gets one again at the first free cron time."""
    pattern = "0 0 9 * * *"
    first = queue.upsert_job_scheduler("s", {"pattern": pattern})
    times = cron_times(pattern, int(first.id.split(":")[2]), 4)
    for millis in times[:3]:
        finish(r, queue_name, f"repeat:s:{millis}")
    job = queue.upsert_job_scheduler("s", {"pattern": pattern})
    assert job.id == f"repeat:s:{times[3]}"
    assert r.zrange(f"bull:{queue_name}:delayed", 0, -1) == [job.id]
    assert r.zcard(f"bull:{queue_name}:completed") == 3
    assert queue.get_job_scheduler("s").next == times[3]  # type: ignore[union-attr]


def test_upsert_refused_when_every_cron_time_tried_is_taken_changes_nothing(
        queue: Queue, queue_name: str, r: redis.Redis) -> None:
    pattern = "0 0 9 * * *"
    first = queue.upsert_job_scheduler("s", {"pattern": pattern})
    times = cron_times(pattern, int(first.id.split(":")[2]), 33)
    # the pending iteration is the 33rd time; the 32 before it hold finished jobs
    later = queue.upsert_job_scheduler("s", {"pattern": pattern, "start_date": times[31]})
    assert later.id == f"repeat:s:{times[32]}"
    for millis in times[:32]:
        finish(r, queue_name, f"repeat:s:{millis}")
    before = {key: r.dump(key) for key in r.keys(f"bull:{queue_name}:*")
              if not key.endswith(":events")}
    with pytest.raises(ScriptError, match="the next 32 times of '0 0 9 \\* \\* \\*'") as err:
        queue.upsert_job_scheduler("s", {"pattern": pattern}, {"data": {"new": 1}})
    assert err.value.code == -10
    assert {key: r.dump(key) for key in r.keys(f"bull:{queue_name}:*")
            if not key.endswith(":events")} == before


@pytest.mark.parametrize("taken", [3, 33])
def test_every_upsert_moves_past_taken_slots_or_changes_nothing(
        taken: int, queue: Queue, queue_name: str, r: redis.Redis) -> None:
    hour = 3_600_000
    start = (int(time.time() * 1000) // hour + 2) * hour
    pending = queue.upsert_job_scheduler("e", {"every": 60_000, "start_date": start})
    assert pending.id == f"repeat:e:{start}"
    # a new interval starts a new schedule, whose first slots hold finished jobs
    later = start + 7 * hour
    for k in range(taken):
        finish(r, queue_name, f"repeat:e:{later + k * 30_000}")
    before = {key: r.dump(key) for key in r.keys(f"bull:{queue_name}:*")
              if not key.endswith(":events")}
    repeat = {"every": 30_000, "start_date": later}
    if taken > 32:
        with pytest.raises(ScriptError, match="32 time slots") as err:
            queue.upsert_job_scheduler("e", repeat)
        assert err.value.code == -11
        assert {key: r.dump(key) for key in r.keys(f"bull:{queue_name}:*")
                if not key.endswith(":events")} == before
        return
    job = queue.upsert_job_scheduler("e", repeat)
    assert job.id == f"repeat:e:{later + taken * 30_000}"
    assert r.zrange(f"bull:{queue_name}:delayed", 0, -1) == [job.id]
    assert not r.exists(f"bull:{queue_name}:{pending.id}")


def test_upsert_while_paused_replaces_the_waiting_iteration(queue: Queue, queue_name: str,
                                                            r: redis.Redis) -> None:
    queue.pause()
    first = queue.upsert_job_scheduler("p", {"every": 60_000})
    assert r.lrange(f"bull:{queue_name}:wait", 0, -1) == [first.id]
    second = queue.upsert_job_scheduler("p", {"every": 30_000})
    assert r.lrange(f"bull:{queue_name}:wait", 0, -1) == [second.id]
    assert not r.exists(f"bull:{queue_name}:{first.id}") or first.id == second.id


def test_get_job_schedulers_reads_every_field(queue: Queue) -> None:
    start = datetime.now(UTC) + timedelta(hours=1)
    end = start + timedelta(days=1)
    queue.upsert_job_scheduler("full", {
        "every": timedelta(minutes=5), "limit": 10, "start_date": start, "end_date": end,
        "offset": 1000, "tz": "UTC"},
        {"name": "n", "data": [1, 2], "opts": {"attempts": 2, "priority": 3,
                                               "remove_on_complete": True}})
    queue.upsert_job_scheduler("cron", {"pattern": "0 0 1 * *"})
    full = queue.get_job_scheduler("full")
    start_ms, end_ms = round(start.timestamp() * 1000), round(end.timestamp() * 1000)
    assert full == JobScheduler(
        id="full", name="n", next=start_ms, iteration_count=1, every=300_000, tz="UTC",
        limit=10, start_date=start_ms, end_date=end_ms, offset=1000,
        template={"data": [1, 2], "opts": {"attempts": 2, "priority": 3,
                                            "remove_on_complete": True}})
    listed = queue.get_job_schedulers()
    assert [s.id for s in listed] == ["cron", "full"]  # latest next run first
    assert [s.id for s in queue.get_job_schedulers(asc=True)] == ["full", "cron"]
    assert [s.id for s in queue.get_job_schedulers(0, 0)] == ["cron"]
    assert listed[0].template is None and listed[0].every is None


def test_iteration_opts_carry_the_template(queue: Queue, queue_name: str,
                                          r: redis.Redis) -> None:
    job = queue.upsert_job_scheduler(
        "p", {"every": 60_000, "start_date": int(time.time() * 1000) + 60_000},
        {"opts": {"priority": 2, "attempts": 4, "backoff": 500}})
    stored = opts_of(r, queue_name, job.id)
    assert stored["priority"] == 2 and stored["attempts"] == 4
    assert stored["backoff"] == {"type": "fixed", "delay": 500}
    assert job.opts["priority"] == 2
    assert r.hget(f"bull:{queue_name}:{job.id}", "priority") == "2"


def test_add_with_repeat_upserts_a_scheduler(queue: Queue, queue_name: str,
                                             r: redis.Redis) -> None:
    job = queue.add("report", {"to": "me"},
                    repeat={"pattern": "0 9 * * *", "tz": "America/New_York"}, attempts=2)
    key = hashlib.md5(b"report:::America/New_York:0 9 * * *").hexdigest()
    assert job.id.startswith(f"repeat:{key}:") and job.scheduler_id == key
    assert job.name == "report" and job.data == {"to": "me"}
    scheduler = queue.get_job_scheduler(key)
    assert scheduler is not None and scheduler.template == {"data": {"to": "me"},
                                                            "opts": {"attempts": 2}}
    # adding it again updates the same scheduler
    again = queue.add("report", {"to": "you"},
                      repeat={"pattern": "0 9 * * *", "tz": "America/New_York"})
    assert again.id == job.id and queue.get_job_schedulers_count() == 1
    assert r.zcard(f"bull:{queue_name}:delayed") == 1
    every = queue.add("ping", None, repeat={"every": 1000, "limit": 2, "key": "my-ping"})
    assert every.id.startswith("repeat:my-ping:") and every.delay == 0
    assert queue.get_job_scheduler("my-ping").limit == 2  # type: ignore[union-attr]


def test_async_twins(queue: Queue) -> None:
    async def main() -> None:
        job = await queue.aupsert_job_scheduler("a", {"every": 60_000})
        assert (await queue.aget_job_scheduler("a")).next == int(job.id.split(":")[2])
        assert [s.id for s in await queue.aget_job_schedulers()] == ["a"]
        assert await queue.aget_job_schedulers_count() == 1
        assert await queue.aremove_job_scheduler("a") is True
        await queue.aclose()

    asyncio.run(main())


# -- bad input ---------------------------------------------------------------------------

NOW = int(time.time() * 1000)  # at import: what is "later" below stays later for days
DAY = 86_400_000
# the last millisecond before next New Year (UTC): a yearly Jan 1 run comes after it
YEAR_END = int(datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC).timestamp() * 1000) - 1
BAD: list[tuple[Any, Any, str]] = [
    ({"pattern": "not a cron"}, None, "invalid cron pattern"),
    ({"pattern": "61 * * * *"}, None, "invalid cron pattern"),
    ({"pattern": "0 0 9 * * * 2026"}, None, "7 fields"),
    ({"pattern": "0 0 30 2 *"}, None, "has no run"),
    ({"pattern": "0 9 * * *", "tz": "Mars/Olympus"}, None, "unknown time zone"),
    ({"pattern": "0 9 * * *", "every": 1000}, None, "not both"),
    ({}, None, "needs 'pattern'"),
    ({"tz": "UTC"}, None, "needs 'pattern'"),
    ({"every": 0}, None, "at least 1 ms"),
    ({"every": -5}, None, "at least 1 ms"),
    ({"every": "1000"}, None, "every"),
    ({"pattern": "0 9 * * *", "immediately": True, "start_date": NOW + 600_000}, None,
     "exclude each other"),
    ({"every": 1000, "end_date": NOW - 1000}, None, "in the past"),
    ({"every": 1000, "end_date": datetime(2020, 1, 1, tzinfo=UTC)}, None, "in the past"),
    ({"every": 1000, "start_date": datetime(2030, 1, 1)}, None, "timezone-aware"),
    ({"every": 1000, "start_date": NOW + 20 * DAY, "end_date": NOW + 10 * DAY}, None, "after"),
    ({"every": 1000, "limit": 0}, None, "limit"),
    ({"every": 1000, "startDate": NOW}, None, "did you mean 'start_date'"),
    ({"pattern": "0 9 * * *", "offset": 10}, None, "'every' only"),
    ({"pattern": "0 0 1 1 *", "end_date": YEAR_END}, None, "before end_date"),
    ("0 9 * * *", None, "repeat must be a dict"),
    ({"every": 1000}, {"opts": {"delay": 5}}, "cannot have 'delay'"),
    ({"every": 1000}, {"opts": {"job_id": "x"}}, "cannot have 'job_id'"),
    ({"every": 1000}, {"opts": {"atempts": 2}}, "unknown job option"),
    ({"every": 1000}, {"nme": "x"}, "template must be"),
    ({"every": 1000}, {"data": {1, 2}}, "not JSON"),
]


@pytest.mark.parametrize(("repeat", "template", "message"), BAD)
def test_bad_input_stores_nothing(queue: Queue, queue_name: str, r: redis.Redis,
                                  repeat: Any, template: Any, message: str) -> None:
    with pytest.raises((InvalidOptionError, TypeError), match=message):
        queue.upsert_job_scheduler("bad", repeat, template)
    assert r.keys(f"bull:{queue_name}:*") == []


def test_bad_add_with_repeat_stores_nothing(queue: Queue, queue_name: str,
                                            r: redis.Redis) -> None:
    with pytest.raises(InvalidOptionError, match="not both"):
        queue.add("x", {}, repeat={"every": 10, "pattern": "* * * * *"})
    with pytest.raises(InvalidOptionError, match="cannot have 'delay'"):
        queue.add("x", {}, repeat={"every": 10}, delay=100)
    with pytest.raises(InvalidOptionError, match="scheduler id"):
        queue.upsert_job_scheduler("", {"every": 10})
    assert r.keys(f"bull:{queue_name}:*") == []
