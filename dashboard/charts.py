"""A queue's last hour as charts: jobs completed and failed per minute, and
wait and run time percentiles.

Per-minute counts come from BullMQ's metrics keys (``<q>:metrics:completed``
and ``:failed``, written by workers started with ``metrics=...``, Node's or
queuecore's); a queue without them is counted from its finished sets (which
only hold the jobs its retention kept: the chart says which source it used).
Durations come from the newest finished jobs of the hour (at most SAMPLE).
Everything is drawn server-side as SVG: no charting library, no CDN."""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass, field

from queuecore.connection import Connection
from queuecore.driver import Call

MINUTES = 60
SAMPLE = 1000
WIDTH, HEIGHT = 600, 120
PERCENTILES = (50, 95, 99)


@dataclass
class Bar:
    x: float
    width: float
    completed_y: float
    completed_h: float
    failed_y: float
    failed_h: float
    label: str
    completed: int
    failed: int


@dataclass
class Charts:
    source: str  # "metrics" or "finished jobs"
    completed: list[int]  # per minute, oldest first, the current minute last
    failed: list[int]
    first_minute: int  # epoch minute of the first value
    wait_ms: dict[int, float] = field(default_factory=dict)  # percentile -> ms
    run_ms: dict[int, float] = field(default_factory=dict)
    sample: int = 0
    bars: list[Bar] = field(default_factory=list)
    peak: int = 0
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def total_completed(self) -> int:
        return sum(self.completed)

    @property
    def total_failed(self) -> int:
        return sum(self.failed)


_WHOLE = re.compile(r"-?[0-9]{1,18}")


def _whole(value: str | None) -> int | None:
    """A number as workers write them; anything else ("²", "1e9", "") is None."""
    return int(value) if value is not None and _WHOLE.fullmatch(value) else None


def _from_metrics(meta: list[str | None], data: list[str], now_minute: int) -> list[int]:
    """BullMQ's metrics as one value per minute, oldest first, ending now.

    `data` holds finished minutes, newest first, ending with the minute before
    `prevTS`'s; `count - prevCount` is the minute of `prevTS` so far; minutes
    after it had no finished job (points are only written by a later finish)."""
    values = [0] * MINUTES
    count, prev_ts, prev_count = (_whole(v) for v in meta)
    if prev_ts is None:
        return values
    prev_minute = prev_ts // 60_000
    pending = (count or 0) - (prev_count or 0)
    points = {prev_minute: max(0, pending)}
    for i, value in enumerate(data):
        points[prev_minute - 1 - i] = max(0, _whole(value) or 0)
    first = now_minute - MINUTES + 1
    for minute, value in points.items():
        if first <= minute <= now_minute:
            values[minute - first] = value
    return values


def _percentiles(values: list[int]) -> dict[int, float]:
    if len(values) < 2:
        return {p: float(values[0]) for p in PERCENTILES} if values else {}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {p: cuts[p - 1] for p in PERCENTILES}


def queue_charts(conn: Connection, base: str, now_ms: int | None = None) -> Charts:
    """The charts of the queue whose keys start with ``base`` ("bull:q:")."""
    now_ms = now_ms or int(time.time() * 1000)
    now_minute = now_ms // 60_000
    first = now_minute - MINUTES + 1
    hour_ago = first * 60_000
    replies = conn.execute_many([
        Call(("HMGET", base + "metrics:completed", "count", "prevTS", "prevCount")),
        Call(("LRANGE", base + "metrics:completed:data", 0, MINUTES)),
        Call(("HMGET", base + "metrics:failed", "count", "prevTS", "prevCount")),
        Call(("LRANGE", base + "metrics:failed:data", 0, MINUTES)),
        Call(("ZREVRANGEBYSCORE", base + "completed", "+inf", hour_ago, "LIMIT", 0, SAMPLE)),
    ])
    if replies[0][1] or replies[2][1]:
        source = "metrics"
        completed = _from_metrics(replies[0], replies[1], now_minute)
        failed = _from_metrics(replies[2], replies[3], now_minute)
    else:
        source = "finished jobs"
        counts = conn.execute_many([
            Call(("ZCOUNT", base + state, (first + i) * 60_000, f"({(first + i + 1) * 60_000}"))
            for state in ("completed", "failed") for i in range(MINUTES)])
        completed, failed = counts[:MINUTES], counts[MINUTES:]
    charts = Charts(source, [int(v) for v in completed], [int(v) for v in failed], first)
    ids = replies[4]
    if ids:
        rows = conn.execute_many([Call(("HMGET", base + job_id, "timestamp", "delay", "processedOn",
                                 "finishedOn")) for job_id in ids])
        waits, runs = [], []
        for row in rows:
            added, delay, started, finished = (_whole(v) if v else 0 for v in row)
            if None in (added, delay, started, finished):
                continue  # written by someone else: left out
            if started and finished >= started:
                runs.append(finished - started)
                waits.append(max(0, started - added - delay))
        charts.wait_ms, charts.run_ms = _percentiles(waits), _percentiles(runs)
        charts.sample = len(runs)
    _layout(charts)
    return charts


def _layout(charts: Charts) -> None:
    """Stacked bars (completed under failed) scaled to the busiest minute."""
    charts.peak = max((c + f for c, f in zip(charts.completed, charts.failed, strict=True)),
                      default=0)
    slot = WIDTH / MINUTES
    scale = (HEIGHT - 4) / charts.peak if charts.peak else 0
    for i, (c, f) in enumerate(zip(charts.completed, charts.failed, strict=True)):
        minute = charts.first_minute + i
        label = time.strftime("%H:%M", time.gmtime(minute * 60))
        completed_h, failed_h = round(c * scale, 1), round(f * scale, 1)
        charts.bars.append(Bar(
            x=round(i * slot + 1, 1), width=round(slot - 2, 1),
            completed_y=round(HEIGHT - completed_h, 1), completed_h=completed_h,
            failed_y=round(HEIGHT - completed_h - failed_h, 1), failed_h=failed_h,
            label=label, completed=c, failed=f))
