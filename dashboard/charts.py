"""A queue's last hour as charts: jobs completed and failed per minute, and
wait and run time percentiles.

The figures are queuecore's ``Queue.get_activity``: per-minute counts from
BullMQ's metrics keys, or from the finished sets when a queue has none (the
chart says which source it used), and durations of the newest finished jobs
of the hour (at most SAMPLE). This module computes percentiles and draws:
server-side SVG, no charting library, no CDN."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

from queuecore import Queue

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


def _percentiles(values: list[int]) -> dict[int, float]:
    if len(values) < 2:
        return {p: float(values[0]) for p in PERCENTILES} if values else {}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {p: cuts[p - 1] for p in PERCENTILES}


def queue_charts(queue: Queue, now_ms: int | None = None) -> Charts:
    """The charts of a queue's last hour."""
    activity = queue.get_activity(now_ms, minutes=MINUTES, sample=SAMPLE)
    charts = Charts(activity.source, activity.completed, activity.failed, activity.first_minute,
                    _percentiles(activity.waits), _percentiles(activity.runs),
                    len(activity.runs))
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
