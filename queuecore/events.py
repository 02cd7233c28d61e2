"""``QueueEvents``: the queue's events stream, as callbacks or an iterator.

Events have BullMQ's names and fields (``completed`` with ``jobId`` and
``returnvalue``, ``progress`` with ``jobId`` and ``data``, ...); like Node's
QueueEvents, ``returnvalue`` and ``data`` are JSON-decoded and ``delay`` is an
int. Each event dict also carries ``event`` (its name) and ``id`` (its stream
id, usable as ``last_event_id`` to resume).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from .connection import Connection
from .driver import Call, Op
from .keys import QueueKeys
from .queue import decode_event, worker_client_name

logger = logging.getLogger("queuecore.events")


class QueueEvents:
    """Reads ``<prefix>:<queue>:events`` from ``last_event_id`` ("$": only new events)."""

    def __init__(self, queue_name: str, connection: Any = None, *, prefix: str = "bull",
                 last_event_id: str = "$", blocking_timeout: int = 10_000) -> None:
        self.keys = QueueKeys(prefix, queue_name)
        base = connection if isinstance(connection, Connection) else Connection(connection)
        name = worker_client_name(prefix, queue_name) + ":qe"
        # a connection of its own: XREAD BLOCK holds it while waiting
        self.connection = Connection(base, client_name=name)
        self.last_event_id = last_event_id
        self.blocking_timeout = blocking_timeout
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self._closed = threading.Event()
        self._readers = 0  # iterations under way; the last one out closes the connection

    def on(self, event: str, callback: Callable[..., Any]) -> Callable[..., Any]:
        """``callback(event_dict)`` for every event named ``event`` (or
        ``"completed:<job id>"`` for one job's), or ``"*"`` for all."""
        self._listeners.setdefault(event, []).append(callback)
        return callback

    def _read(self, block_ms: int) -> Op[list[dict[str, Any]]]:
        if self.last_event_id == "$":
            # pin "$" to an id now, so nothing is missed between reads
            last = yield Call(("XREVRANGE", self.keys["events"], "+", "-", "COUNT", 1))
            self.last_event_id = last[0][0] if last else "0-0"
        reply = yield Call(("XREAD", "COUNT", 1000, "BLOCK", block_ms, "STREAMS",
                            self.keys["events"], self.last_event_id))
        events = []
        for _stream, entries in reply or []:
            for event_id, fields in entries:
                event = decode_event(fields)
                event["id"] = event_id
                events.append(event)
                self.last_event_id = event_id
        return events

    def _dispatch(self, event: dict[str, Any]) -> list[Any]:
        results = []
        name = event.get("event", "")
        for key in (name, f"{name}:{event.get('jobId')}", "*"):
            for callback in self._listeners.get(key, ()):
                try:
                    results.append(callback(event))
                except Exception:
                    logger.exception("QueueEvents listener for %r raised", key)
        return results

    # -- iteration ---------------------------------------------------------------------

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._readers += 1
        try:
            while not self._closed.is_set():
                yield from self.connection.run(self._read(self._block_ms()))
        finally:
            self._readers -= 1
            if self._closed.is_set() and not self._readers:
                self.connection.close()

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        self._readers += 1
        try:
            while not self._closed.is_set():
                for event in await self.connection.arun(self._read(self._block_ms())):
                    yield event
        finally:
            self._readers -= 1

    def _block_ms(self) -> int:
        # short blocks, so close() from another thread takes effect soon
        return min(self.blocking_timeout, 1000)

    # -- callbacks ------------------------------------------------------------------------

    def run(self) -> None:
        """Dispatch events to the callbacks until ``close()``."""
        for event in self:
            self._dispatch(event)

    async def arun(self) -> None:
        async for event in self:
            for result in self._dispatch(event):
                if inspect.isawaitable(result):
                    await result

    def start(self) -> threading.Thread:
        """Run the callbacks in a background thread."""
        thread = threading.Thread(target=self.run, name=f"events-{self.keys.name}", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """Stop; a reader in another thread stops within a second."""
        self._closed.set()
        if not self._readers:
            self.connection.close()

    async def aclose(self) -> None:
        self._closed.set()
        await asyncio.sleep(0)
        await self.connection.aclose()
