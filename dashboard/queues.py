"""What the dashboard reads from Redis: the queues under the prefix, their
counts and workers, and the server's health. One round trip per page where
it can be."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from queuecore import Queue
from queuecore.connection import Connection
from queuecore.discovery import count_workers, discover
from queuecore.driver import Call
from queuecore.errors import QueueCoreError

from .conf import DashboardSettings, connection

STATES = ("latest", "active", "waiting", "waiting-children", "prioritized", "delayed",
          "completed", "failed", "paused")
LIST_STATES = {"active", "waiting", "paused"}
THROUGHPUT_WINDOW_MS = 5 * 60_000
# what the engine raises when a key another client wrote is of the wrong type
# (WrongTypeError) or Redis is gone: the driver maps every Redis error to these
REFUSED = QueueCoreError
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
    replies = tolerant(conn, calls)
    workers = count_workers(conn, conf.prefix, names)
    summaries = []
    per = 11
    for i, name in enumerate(names):
        r = replies[i * per:(i + 1) * per]
        counts = dict(zip(("waiting", "active", "waiting-children", "prioritized", "delayed",
                           "completed", "failed", "paused"), (_count(v) for v in r[:8]),
                          strict=True))
        summary = QueueSummary(name, counts, r[8] is True or r[8] == 1, workers.get(name, 0),
                               _count(r[9]), _count(r[10]))
        broken = [call.args[1][len(f"{conf.prefix}:{name}:"):]
                  for call, reply in zip(calls[i * per:(i + 1) * per], r, strict=True)
                  if isinstance(reply, Exception)]
        if broken:  # shown on the overview: this queue's keys, not the page, are at fault
            summary.extra["broken_keys"] = sorted(set(broken))
        summaries.append(summary)
    return summaries


def tolerant(conn: Connection, calls: list[Call]) -> list[Any]:
    """Replies to ``calls`` in one round trip; if one fails (a key another
    client made of the wrong type), each is sent alone and a failure is
    its error in the list, so one broken queue never hides the others."""
    try:
        return conn.execute_many(calls)
    except REFUSED:
        replies: list[Any] = []
        for call in calls:
            try:
                replies.append(conn.execute(*call.args))
            except REFUSED as exc:
                replies.append(exc)
        return replies


def _count(reply: Any) -> int:
    return reply if isinstance(reply, int) else 0


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
