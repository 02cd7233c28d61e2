"""Which queues live on a server, and which have live workers: the BullMQ
keys and client names tell, whoever wrote them (Node BullMQ, Python bullmq,
queuecore)."""

from __future__ import annotations

import re
import threading
import time

from .connection import Connection
from .driver import mapped
from .keys import EXISTENCE_SUFFIXES

DISCOVERY_TTL_S = 30.0

# (url, prefix) -> (when found, queue names); refreshed in the background
_discovered: dict[tuple[str | None, str], tuple[float, list[str]]] = {}
_refreshing: set[tuple[str | None, str]] = set()
_lock = threading.Lock()


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _scan(conn: Connection, prefix: str) -> list[str]:
    """One SCAN pass over the keyspace for ``<prefix>:<name>:<suffix>``, each of
    EXISTENCE_SUFFIXES (``meta``, ``id``: the pattern matches both)."""
    start = len(prefix) + 1
    names: set[str] = set()
    # redis-py's scan_iter walks every node of a cluster; its errors are mapped
    # here as the driver maps a request's
    with mapped("SCAN"):
        for found in conn.sync_client.scan_iter(match=f"{_glob_escape(prefix)}:*:[im][de]*",
                                                count=5000):
            for suffix in (":" + s for s in EXISTENCE_SUFFIXES):
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
    from .queue import Queue

    if Queue(name, conn, prefix).exists():
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
