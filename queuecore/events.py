"""``QueueEvents``: the queue's events stream, as callbacks or an iterator.

Events have BullMQ's names and fields (``completed`` with ``jobId`` and
``returnvalue``, ``progress`` with ``jobId`` and ``data``, ...); like Node's
QueueEvents, ``returnvalue`` and ``data`` are JSON-decoded and ``delay`` is an
int. Each event dict also carries ``event`` (its name) and ``id`` (its stream
id, usable as ``last_event_id`` to resume).

``EventsFollower``: the events streams of many queues on one connection, for
readers that need to know *that* a queue changed, not each event (live pages).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from .clients import worker_client_name
from .connection import Connection
from .driver import Call, Op, Pipeline
from .errors import ConnectionFailedError, QueueCoreError
from .keys import QueueKeys
from .queue import decode_event

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


class EventsFollower:
    """Which of the watched queues had events: one ``XREAD BLOCK`` over all
    their streams, on one connection of its own.

    ``watch(name)`` / ``unwatch(name)`` change the set between reads (a read
    under way ends within ``block_ms``); ``changes()`` yields the names of the
    queues with new events. A busy stream is skipped to its newest entry rather
    than read through, and reads that find events are at least
    ``min_interval`` s apart: a reader that redraws at most that often loses
    nothing. A key that is not a stream (another client's) is not followed.
    asyncio only: it serves consumers in one event loop (the dashboard's).
    """

    def __init__(self, connection: Any = None, *, prefix: str = "bull", block_ms: int = 1000,
                 min_interval: float = 0.0, client_name: str | None = None) -> None:
        base = connection if isinstance(connection, Connection) else Connection(connection)
        # a connection of its own: XREAD BLOCK holds it while waiting
        named = {"client_name": client_name} if client_name else {}
        self.connection = Connection(base, **named)
        self.base = base  # for awatch(), while the follower's own connection blocks
        self.prefix = prefix
        self.block_ms = block_ms
        self.min_interval = min_interval
        self._watched: dict[str, str] = {}  # queue name -> its stream's key
        self._last: dict[str, str] = {}  # key -> the id read up to
        self._names: dict[str, str] = {}  # key -> queue name
        self._closed = False

    @property
    def watched(self) -> frozenset[str]:
        return frozenset(self._watched)

    def watch(self, name: str) -> None:
        """Follow the queue from its stream's end as of the next read."""
        self._watched.setdefault(name, QueueKeys(self.prefix, name)["events"])

    async def awatch(self, *names: str) -> None:
        """Follow the queues from their streams' ends now: an event after this
        call is in a later ``changes()`` even if a read is under way."""
        new = {name: QueueKeys(self.prefix, name)["events"]
               for name in names if name not in self._watched}
        if not new:
            return
        try:
            newest = await self.base.arun(self._newest_of(list(new.values())))
        except ConnectionFailedError:
            self._watched.update(new)  # pinned by the next read, once Redis is back
            return
        self._watched.update(new)
        self._start_at(new, newest)

    def unwatch(self, name: str) -> None:
        key = self._watched.pop(name, None)
        if key is not None:
            self._last.pop(key, None)
            self._names.pop(key, None)

    def _newest_of(self, keys: list[str]) -> Op[dict[str, str | None]]:
        """Each key's newest id ("0-0": empty), or None for a key that is not a
        stream; one round trip."""
        replies = yield Pipeline([Call(("XREVRANGE", key, "+", "-", "COUNT", 1))
                                  for key in keys], tolerant=True)
        return {key: None if isinstance(reply, QueueCoreError)
                else reply[0][0] if reply else "0-0"
                for key, reply in zip(keys, replies, strict=True)}

    def _start_at(self, names: dict[str, str], newest: dict[str, str | None]) -> None:
        """Follow each queue's stream from ``newest``; one that is not a stream is not followed."""
        for name, key in names.items():
            if newest[key] is not None:
                self._last[key] = newest[key]
            self._names[key] = name

    def _read(self) -> Op[set[str]]:
        keys = list(self._last)
        reply = yield Call(("XREAD", "COUNT", 1, "BLOCK", self.block_ms, "STREAMS", *keys,
                            *(self._last[k] for k in keys)))
        busy = [stream for stream, entries in reply or [] if entries and stream in self._last]
        if not busy:
            return set()
        # skip each backlog to its stream's newest entry, all in one round trip
        newest = yield Pipeline([Call(("XREVRANGE", stream, "+", "-", "COUNT", 1))
                                 for stream in busy])
        for stream, entries in zip(busy, newest, strict=True):
            self._last[stream] = entries[0][0] if entries else "0-0"
        return {self._names[stream] for stream in busy}

    async def _pin(self) -> None:
        """Streams watched since the last read start from their ends now."""
        new = {name: key for name, key in self._watched.items()
               if key not in self._last and key not in self._names}
        if new:
            self._start_at(new, await self.connection.arun(self._newest_of(list(new.values()))))

    async def changes(self) -> AsyncIterator[set[str]]:
        """The names of the watched queues with new events, read by read, until
        ``aclose()``; a lost connection is retried every second."""
        loop = asyncio.get_running_loop()
        read_at = 0.0
        while not self._closed:
            try:
                await self._pin()
                if not self._last:  # nothing followable: look again for new names
                    await asyncio.sleep(self.block_ms / 1000)
                    continue
                wait = self.min_interval - (loop.time() - read_at)
                if wait > 0:
                    await asyncio.sleep(wait)
                changed = await self.connection.arun(self._read())
            except ConnectionFailedError:
                logger.warning("events follower: Redis is unreachable; retrying in 1 s")
                await asyncio.sleep(1.0)
                continue
            except QueueCoreError:  # a stream replaced by another type: check each again
                self._last.clear()
                self._names.clear()
                continue
            if changed:
                read_at = loop.time()
                yield changed

    async def aclose(self) -> None:
        self._closed = True
        await self.connection.aclose()
