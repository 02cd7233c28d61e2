"""One auto-pipelined asyncio connection for script calls (as ioredis does).

Every command is written to the socket at once and its reply matched in
order, so concurrent callers share one connection with no pool, no lock and
no task per call: a thousand concurrent ``aadd`` calls are a thousand
pipelined EVALSHAs on one socket, and a single awaited call costs one write
and one read callback. redis-py's asyncio pool, by contrast, takes and
returns a connection around each command and refuses callers beyond its
size ("Too many connections").

Only script calls (``Eval``) use it: their replies are plain RESP, while
other commands rely on redis-py's reply parsing (HGETALL as a dict, ...).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from .text import ENCODING_ERRORS, pack_command

CONNECT_TIMEOUT_S = 10.0


def reply_error(reply: hiredis.ReplyError) -> Exception:
    message = str(reply)
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    return ResponseError(message)


def handshake(username: str | None, password: str | None, db: int) -> list[tuple[Any, ...]]:
    """What a new connection sends before its first command: AUTH, SELECT."""
    commands: list[tuple[Any, ...]] = []
    if password is not None:
        commands.append(("AUTH", username, password) if username else ("AUTH", password))
    if db:
        commands.append(("SELECT", db))
    return commands


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader(encoding="utf-8", errors=ENCODING_ERRORS)
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while True:
            reply = self.reader.gets()
            if reply is False:  # the rest of the reply has not arrived yet
                return
            future = self.waiting.popleft()
            if future.done():  # its caller gave up: the reply is dropped, in order
                continue
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(reply_error(reply))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = RedisConnectionError(f"connection to Redis lost: {exc or 'closed'}")
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(self.lost)


class PipelinedClient:
    """An auto-pipelined connection to ``host:port`` (AUTH and SELECT on
    connect); reconnects on the next call after the connection was lost."""

    def __init__(self, host: str, port: int, *, db: int = 0, username: str | None = None,
                 password: str | None = None) -> None:
        self.host, self.port, self.db = host, port, db
        self.username, self.password = username, password
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(_Protocol, self.host, self.port), CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise RedisConnectionError(
                f"cannot connect to Redis at {self.host}:{self.port}: {exc}") from exc
        for command in handshake(self.username, self.password, self.db):
            await self._send(protocol, command)
        return protocol

    async def _ready(self) -> _Protocol:
        protocol = self._protocol
        if protocol is not None and protocol.lost is None:
            return protocol
        if self._connecting is not None and self._connecting.done():
            self._connecting = None  # failed with nobody waiting: try afresh
        if self._connecting is None:  # one connect for all the callers waiting on it
            self._connecting = asyncio.ensure_future(self._connect())
            self._connecting.add_done_callback(self._connected)
        try:
            protocol = await asyncio.shield(self._connecting)
        finally:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None
        return protocol  # _connected, its done callback, has kept it

    def _connected(self, task: asyncio.Future[_Protocol]) -> None:
        # Its callers may all have been cancelled before it ended: keep the
        # connection, and retrieve the error (else asyncio logs "Task
        # exception was never retrieved").
        if not task.cancelled() and task.exception() is None:
            self._protocol = task.result()

    @staticmethod
    def _send(protocol: _Protocol, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if protocol.lost is not None or protocol.transport is None:
            future.set_exception(protocol.lost or RedisConnectionError("not connected"))
            return future
        packed = pack_command(args)  # first: an argument it refuses leaves no reply owed
        protocol.waiting.append(future)
        protocol.transport.write(packed)
        return future

    async def execute(self, *args: Any) -> Any:
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._ready()
        return await self._send(protocol, args)

    async def aclose(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None
