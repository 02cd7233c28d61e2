"""What the dashboard reads from Redis: the queues under the prefix, their
counts and workers, and the server's health. One round trip per page where
it can be."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from queuecore import Queue
from queuecore.connection import Call
from queuecore.discovery import count_workers, discover

from .conf import DashboardSettings, connection

STATES = ("latest", "active", "waiting", "waiting-children", "prioritized", "delayed",
          "completed", "failed", "paused")
LIST_STATES = {"active", "waiting", "paused"}
THROUGHPUT_WINDOW_MS = 5 * 60_000
def visible_queues(conf: DashboardSettings) -> list[str]:
    """The allow-list when one is set, else every queue found under the prefix."""
    if conf.queues is not None:
        return list(conf.queues)
    return discover(connection(conf.redis_url), conf.prefix)


def get_queue(conf: DashboardSettings, name: str) -> Queue:
    return Queue(name, connection=connection(conf.redis_url), prefix=conf.prefix)


# Keys one of which any queue that ever held a job (or a scheduler) still has
EXISTENCE_SUFFIXES = ("meta", "id", "events", "wait", "active", "paused", "prioritized",
                      "delayed", "completed", "failed", "waiting-children", "repeat", "marker")


def queue_exists(queue: Queue) -> bool:
    """Whether the queue has any of its keys (a name typed into the address bar
    that no producer ever used has none); one EXISTS per key, as a cluster
    without a hash-tagged prefix spreads them over slots."""
    replies = queue.connection.execute_many(
        [Call(("EXISTS", queue.keys.base + suffix)) for suffix in EXISTENCE_SUFFIXES])
    return any(replies)


@dataclass
class QueueSummary:
    name: str
    counts: dict[str, int]
    paused: bool
    workers: int
    completed_recent: int
    failed_recent: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def throughput_per_min(self) -> float:
        return round(self.completed_recent / (THROUGHPUT_WINDOW_MS / 60_000), 1)

    @property
    def waiting_without_workers(self) -> bool:
        return self.workers == 0 and (self.counts["waiting"] + self.counts["prioritized"]) > 0


def _count_calls(base: str, since: int) -> list[Call]:
    return [
        Call(("LLEN", base + "wait")), Call(("LLEN", base + "active")),
        Call(("ZCARD", base + "waiting-children")), Call(("ZCARD", base + "prioritized")),
        Call(("ZCARD", base + "delayed")), Call(("ZCARD", base + "completed")),
        Call(("ZCARD", base + "failed")), Call(("LLEN", base + "paused")),
        Call(("HEXISTS", base + "meta", "paused")),
        Call(("ZCOUNT", base + "completed", since, "+inf")),
        Call(("ZCOUNT", base + "failed", since, "+inf")),
    ]


def summarize(conf: DashboardSettings, names: list[str]) -> list[QueueSummary]:
    """Counts, pause state, live workers and recent throughput of every queue:
    one pipelined round trip for the counts, one CLIENT LIST for the workers."""
    conn = connection(conf.redis_url)
    since = int(time.time() * 1000) - THROUGHPUT_WINDOW_MS
    calls: list[Call] = []
    for name in names:
        calls += _count_calls(f"{conf.prefix}:{name}:", since)
    replies = conn.execute_many(calls)
    workers = count_workers(conn, conf.prefix, names)
    summaries = []
    per = 11
    for i, name in enumerate(names):
        r = replies[i * per:(i + 1) * per]
        counts = dict(zip(("waiting", "active", "waiting-children", "prioritized", "delayed",
                           "completed", "failed", "paused"), (int(v) for v in r[:8]),
                          strict=True))
        summaries.append(QueueSummary(name, counts, bool(r[8]), workers.get(name, 0),
                                      int(r[9]), int(r[10])))
    return summaries


def server_info(conf: DashboardSettings) -> dict[str, Any]:
    conn = connection(conf.redis_url)
    info = conn.execute("INFO")
    if isinstance(info, dict) and "redis_version" not in info and info:
        info = next(iter(info.values()))  # a cluster: show the first node
    return {
        "version": info.get("valkey_version") or info.get("redis_version"),
        "server": "Valkey" if info.get("valkey_version") or info.get("server_name") == "valkey"
        else "Redis",
        "memory": info.get("used_memory_human"),
        "memory_peak": info.get("used_memory_peak_human"),
        "clients": info.get("connected_clients"),
        "uptime_s": info.get("uptime_in_seconds"),
        "maxmemory_policy": info.get("maxmemory_policy"),
    }
