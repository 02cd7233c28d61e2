"""What the dashboard reads from Redis: the queues under the prefix, their
counts and workers, and the server's health. One round trip per page where
it can be."""

from __future__ import annotations

import base64
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from queuecore import Connection, Queue
from queuecore.connection import Call, Pipeline
from queuecore.queue import _client_list

from .conf import DashboardSettings, connection

STATES = ("latest", "active", "waiting", "waiting-children", "prioritized", "delayed",
          "completed", "failed", "paused")
LIST_STATES = {"active", "waiting", "paused"}
THROUGHPUT_WINDOW_MS = 5 * 60_000
DISCOVERY_TTL_S = 30.0

# (url, prefix) -> (when found, queue names); refreshed in the background
_discovered: dict[tuple[str | None, str], tuple[float, list[str]]] = {}
_refreshing: set[tuple[str | None, str]] = set()
_lock = threading.Lock()


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _scan(conn: Connection, prefix: str) -> list[str]:
    """One SCAN pass over the keyspace for ``<prefix>:<name>:meta`` and ``:id``."""
    start = len(prefix) + 1
    names: set[str] = set()
    for found in conn.sync_client.scan_iter(match=f"{_glob_escape(prefix)}:*:[im][de]*",
                                            count=5000):
        for suffix in (":meta", ":id"):
            if found.endswith(suffix):
                name = found[start:-len(suffix)]
                if name and ":" not in name:
                    names.add(name)
    return sorted(names)


def _refresh(conn: Connection, key: tuple[str | None, str]) -> list[str]:
    try:
        names = _scan(conn, key[1])
        with _lock:
            _discovered[key] = (time.monotonic(), names)
        return names
    finally:
        with _lock:
            _refreshing.discard(key)


def discover(conn: Connection, prefix: str) -> list[str]:
    """Every queue under ``prefix`` (Node BullMQ's and Python bullmq's too): the
    names with a ``meta`` or ``id`` key. SCAN walks the whole keyspace (about a
    second at a million keys), so only a process's first call waits for it; later
    calls get the list found last, and one background thread refreshes it when
    it is older than DISCOVERY_TTL_S."""
    key = (conn.url, prefix)
    with _lock:
        hit = _discovered.get(key)
        if hit is not None:
            if time.monotonic() - hit[0] > DISCOVERY_TTL_S and key not in _refreshing:
                _refreshing.add(key)
                threading.Thread(target=_refresh, args=(conn, key), daemon=True,
                                 name="queue-discovery").start()
            return hit[1]
        _refreshing.add(key)
    return _refresh(conn, key)


def remember(conn: Connection, prefix: str, name: str) -> None:
    """Add a queue seen on its own page to the found list (if it exists), so a
    new queue shows on the overview without waiting for the next SCAN."""
    key = (conn.url, prefix)
    with _lock:
        hit = _discovered.get(key)
        if hit is None or name in hit[1]:
            return
    base = f"{prefix}:{name}:"
    if conn.sync_client.exists(base + "meta", base + "id"):
        with _lock:
            when, names = _discovered.get(key, hit)
            if name not in names:
                _discovered[key] = (when, sorted([*names, name]))


def forget_discovered(queue: str | None = None) -> None:
    """Drop one queue (after an obliterate) or everything from what was found."""
    with _lock:
        if queue is None:
            _discovered.clear()
            return
        for key, (when, names) in list(_discovered.items()):
            _discovered[key] = (when, [n for n in names if n != queue])


def visible_queues(conf: DashboardSettings) -> list[str]:
    """The allow-list when one is set, else every queue found under the prefix."""
    if conf.queues is not None:
        return list(conf.queues)
    return discover(connection(conf.redis_url), conf.prefix)


def get_queue(conf: DashboardSettings, name: str) -> Queue:
    return Queue(name, connection=connection(conf.redis_url), prefix=conf.prefix)


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
    replies = conn.run(_pipeline(calls)) if calls else []
    workers = count_workers(conf, names)
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


def _pipeline(calls: list[Call]) -> Any:
    return (yield Pipeline(calls))


def count_workers(conf: DashboardSettings, names: list[str]) -> dict[str, int]:
    """Live workers per queue from CLIENT LIST, named the way Node BullMQ,
    Python bullmq and queuecore name their worker connections."""
    conn = connection(conf.redis_url)
    try:
        listing = conn.run(_call(("CLIENT LIST",)))
    except Exception:  # some hosted Redis forbid CLIENT: no worker counts then
        return {}
    clients = [c for node in listing.values() for c in _client_list(node)] \
        if isinstance(listing, dict) else _client_list(listing)
    by_client_name: dict[str, str] = {}
    for name in names:
        b64 = base64.b64encode(name.encode()).decode()
        by_client_name[f"{conf.prefix}:{b64}"] = name
        by_client_name[f"{conf.prefix}:{name}"] = name
    found: dict[str, int] = {}
    for client in clients:
        raw = client.get("name", "")
        base = raw.split(":w:", 1)[0]
        queue = by_client_name.get(base)
        if queue is not None:
            found[queue] = found.get(queue, 0) + 1
    return found


def _call(args: tuple[Any, ...]) -> Any:
    return (yield Call(args))


def server_info(conf: DashboardSettings) -> dict[str, Any]:
    conn = connection(conf.redis_url)
    info = conn.run(_call(("INFO",)))
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
