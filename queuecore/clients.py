"""Workers as Redis lists them: CLIENT LIST parsed, and its entries matched to
queues by the connection names Node BullMQ, Python bullmq and queuecore give
their workers' connections. The one reading of CLIENT LIST: ``Queue.get_workers``,
``Overview.workers``, queue summaries and ``manage.py queues`` all use it."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .text import as_bytes


def client_list(reply: Any) -> list[dict[str, str]]:
    """CLIENT LIST as dicts, whether redis-py parsed it or not, from one node or
    (a cluster) from each."""
    if isinstance(reply, dict):
        return [c for node in reply.values() for c in client_list(node)]
    if isinstance(reply, str):
        return [dict(field.split("=", 1) for field in line.split(" ") if "=" in field)
                for line in reply.splitlines() if line]
    return list(reply)


def worker_client_name(prefix: str, queue_name: str, worker_name: str | None = None) -> str:
    """The CLIENT SETNAME of a worker's blocking connection, as Node BullMQ names it."""
    b64 = base64.b64encode(as_bytes(queue_name)).decode()
    return f"{prefix}:{b64}" + (f":w:{worker_name}" if worker_name else "")


def worker_client_bases(prefix: str, queue_name: str) -> tuple[str, str]:
    """What a queue's worker connections are named (before any ``:w:<worker>``):
    Node BullMQ's and queuecore's form (base64), and Python bullmq's (plain)."""
    return worker_client_name(prefix, queue_name), f"{prefix}:{queue_name}"


def worker_details(worker_name: str) -> dict[str, Any]:
    """runworker names its workers ``<host>:<pid>:<concurrency>``: read them back."""
    parts = worker_name.split(":")
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return {"worker": worker_name, "host": parts[0], "pid": int(parts[1]),
                "concurrency": int(parts[2])}
    return {"worker": worker_name} if worker_name else {}


def _ago_ms(now: int, seconds: str) -> int | None:
    return now - int(seconds) * 1000 if str(seconds).isdigit() else None


@dataclass
class WorkerInfo:
    """One live worker connection of a queue."""

    queue: str
    name: str  # the worker's own name ("" when it has none)
    client_name: str  # the whole CLIENT SETNAME
    library: str  # "queuecore", "Python bullmq" or "Node BullMQ or queuecore"
    addr: str
    host: str | None  # from a runworker name: host, pid, concurrency
    pid: int | None
    concurrency: int | None
    started_at: int | None  # ms: when its connection was opened
    last_seen: int | None  # ms: its last command
    command: str  # its last command, as CLIENT LIST says
    client: dict[str, str] = field(default_factory=dict, repr=False)  # the CLIENT LIST entry


def find_workers(listing: Any, prefix: str, names: Iterable[str], now: int
                 ) -> dict[str, list[WorkerInfo]]:
    """The workers of each named queue in a CLIENT LIST reply (parsed or not),
    sorted by host, pid and address; every name has an entry."""
    bases: dict[str, tuple[str, str]] = {}
    found: dict[str, list[WorkerInfo]] = {}
    for name in names:
        b64, plain = worker_client_bases(prefix, name)
        bases[b64] = bases[plain] = (name, plain)
        found[name] = []
    for client in client_list(listing):
        raw = client.get("name", "")
        base, _, worker_name = raw.partition(":w:")
        if base not in bases:
            continue
        queue, plain = bases[base]
        details = worker_details(worker_name)
        library = ("Python bullmq" if base == plain else
                   "queuecore" if details.get("host") else "Node BullMQ or queuecore")
        found[queue].append(WorkerInfo(
            queue=queue, name=worker_name, client_name=raw, library=library,
            addr=client.get("addr", ""), host=details.get("host"), pid=details.get("pid"),
            concurrency=details.get("concurrency"),
            started_at=_ago_ms(now, client.get("age", "")),
            last_seen=_ago_ms(now, client.get("idle", "")),
            command=client.get("cmd", ""), client=client))
    for rows in found.values():
        rows.sort(key=lambda w: (w.host or "", w.pid or 0, w.addr))
    return found
