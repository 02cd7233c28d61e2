"""Reads across the queues of one prefix on one server: which queues there
are, their summaries in one round trip, their live workers, and the server's
health. What a dashboard or a monitoring script shows; per-queue reads are
``Queue`` methods (``reads.py``).

    overview = Overview("redis://localhost:6379", prefix="bull")
    for summary in overview.summaries(overview.discover()):
        print(summary.name, summary.counts["waiting"], summary.workers)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import discovery, reads
from .clients import WorkerInfo, find_workers
from .connection import Connection
from .driver import Call, Op, Pipeline, twin
from .job import now_ms
from .reads import QueueSummary


@dataclass
class ServerInfo:
    """What INFO says of the server's health (of the first node, in a cluster)."""

    server: str  # "Redis" or "Valkey"
    version: str | None
    memory: str | None  # used_memory_human
    memory_peak: str | None
    clients: Any
    uptime_s: Any
    maxmemory_policy: str | None  # BullMQ needs noeviction
    info: dict[str, Any] = field(default_factory=dict, repr=False)  # all of INFO


def server_info_from(info: Any) -> ServerInfo:
    if isinstance(info, dict) and "redis_version" not in info and info \
            and all(isinstance(v, dict) for v in info.values()):
        info = next(iter(info.values()))  # a cluster: one node's
    info = info if isinstance(info, dict) else {}
    valkey = info.get("valkey_version") or info.get("server_name") == "valkey"
    return ServerInfo(
        server="Valkey" if valkey else "Redis",
        version=info.get("valkey_version") or info.get("redis_version"),
        memory=info.get("used_memory_human"), memory_peak=info.get("used_memory_peak_human"),
        clients=info.get("connected_clients"), uptime_s=info.get("uptime_in_seconds"),
        maxmemory_policy=info.get("maxmemory_policy"), info=info)


class Overview:
    """The queues under ``prefix`` on one server. Every read has an asyncio
    twin with an ``a`` prefix (``summaries`` / ``asummaries``)."""

    def __init__(self, connection: Any = None, prefix: str = "bull") -> None:
        self.connection = connection if isinstance(connection, Connection) \
            else Connection(connection)
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"<Overview {self.prefix!r}>"

    # -- which queues ------------------------------------------------------------------

    def discover(self) -> list[str]:
        """Every queue under the prefix, Node's and Python bullmq's too (see
        ``discovery.discover``: one SCAN per process, then a list refreshed in
        the background)."""
        return discovery.discover(self.connection, self.prefix)

    async def adiscover(self) -> list[str]:
        # SCAN with a cache shared by threads: a thread, not the event loop, waits
        return await asyncio.to_thread(self.discover)

    def remember(self, name: str) -> None:
        """A queue seen by name (its own page) joins what ``discover`` lists at
        once, if it exists, instead of after the next SCAN."""
        discovery.remember(self.connection, self.prefix, name)

    async def aremember(self, name: str) -> None:
        await asyncio.to_thread(self.remember, name)

    # -- reads -------------------------------------------------------------------------

    def _summaries(self, names: Sequence[str], window_ms: int = reads.THROUGHPUT_WINDOW_MS
                   ) -> Op[list[QueueSummary]]:
        """Each named queue's counts, pause, workers and recent finishes, in one
        round trip; a queue with keys of the wrong type lists them in
        ``broken_keys`` and the others are read as ever."""
        return (yield from reads.summaries(self.prefix, list(names), window_ms))

    summaries, asummaries = twin(_summaries)

    def _summaries_and_workers(
        self, names: Sequence[str], window_ms: int = reads.THROUGHPUT_WINDOW_MS,
    ) -> Op[tuple[list[QueueSummary], dict[str, list[WorkerInfo]] | None]]:
        """``summaries`` and ``workers`` from one round trip (one CLIENT LIST
        serves both)."""
        return (yield from reads.summaries_and_workers(self.prefix, list(names), window_ms))

    summaries_and_workers, asummaries_and_workers = twin(_summaries_and_workers)

    def _workers(self, names: Sequence[str]) -> Op[dict[str, list[WorkerInfo]] | None]:
        """The live workers of each named queue, from one CLIENT LIST; None when
        the server refuses CLIENT (some hosted Redis do)."""
        listing = (yield Pipeline([Call(("CLIENT LIST",))], tolerant=True))[0]
        if isinstance(listing, Exception):
            return None
        return find_workers(listing, self.prefix, names, now_ms())

    workers, aworkers = twin(_workers)

    def _server_info(self) -> Op[ServerInfo]:
        return server_info_from((yield Call(("INFO",))))

    server_info, aserver_info = twin(_server_info)

    def close(self) -> None:
        self.connection.close()

    async def aclose(self) -> None:
        await self.connection.aclose()
