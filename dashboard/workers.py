"""The workers page's reading: every live worker connection of the visible
queues, from one CLIENT LIST (Node BullMQ, Python bullmq and queuecore name
their worker connections so that they can be told apart)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from queuecore.queue import _worker_details, client_list, worker_client_bases

from .conf import DashboardSettings, connection
from .presenters import when


@dataclass
class WorkerRow:
    queue: str
    name: str  # the worker's own name ("" when it has none)
    library: str
    addr: str
    host: str | None
    pid: int | None
    concurrency: int | None
    started_at: int | None  # ms: when its connection was opened
    last_seen: int | None  # ms: its last command to Redis
    command: str

    @property
    def started(self) -> datetime | None:
        return when(self.started_at)

    @property
    def seen_ago_s(self) -> int | None:
        return None if self.last_seen is None else max(0, (int(time.time() * 1000)
                                                           - self.last_seen) // 1000)


def _library(raw: str, plain_base: str, details: dict[str, Any]) -> str:
    if raw.partition(":w:")[0] == plain_base:
        return "Python bullmq"
    if details.get("host"):
        return "queuecore"
    return "Node BullMQ or queuecore"


def live_workers(conf: DashboardSettings, names: list[str]) -> dict[str, list[WorkerRow]] | None:
    """Workers per queue; None when the server refuses CLIENT LIST."""
    try:
        listing = client_list(connection(conf.redis_url).execute("CLIENT LIST"))
    except Exception:  # some hosted Redis forbid CLIENT
        return None
    bases = {}
    for name in names:
        b64, plain = worker_client_bases(conf.prefix, name)
        bases[b64] = (name, plain)
        bases[plain] = (name, plain)
    now = int(time.time() * 1000)
    found: dict[str, list[WorkerRow]] = {name: [] for name in names}
    for client in listing:
        raw = client.get("name", "")
        base, _, worker_name = raw.partition(":w:")
        if base not in bases:
            continue
        queue, plain = bases[base]
        details = _worker_details(worker_name)
        age, idle = client.get("age", ""), client.get("idle", "")
        found[queue].append(WorkerRow(
            queue=queue, name=worker_name, library=_library(raw, plain, details),
            addr=client.get("addr", ""), host=details.get("host"), pid=details.get("pid"),
            concurrency=details.get("concurrency"),
            started_at=now - int(age) * 1000 if str(age).isdigit() else None,
            last_seen=now - int(idle) * 1000 if str(idle).isdigit() else None,
            command=client.get("cmd", "")))
    for rows in found.values():
        rows.sort(key=lambda w: (w.host or "", w.pid or 0, w.addr))
    return found
