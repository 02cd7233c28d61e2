"""Redis clients, and the I/O of operations.

A ``Connection`` says which server to talk to and makes the clients:
one sync client, and per event loop one asyncio client, one auto-pipelined
connection for script calls (``queuecore.pipelined``) and one pubsub
connection (``Subscriptions``), all shared by the queues and workers that
use this ``Connection`` in that loop. Operations are run by
``queuecore.driver``'s executors on these clients (``run`` / ``arun``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from redis.exceptions import TimeoutError as RedisTimeoutError

from .direct import DirectClient
from .driver import AsyncExecutor, Call, Executor, Op, Pipeline, T, mapped, single
from .errors import InvalidOptionError, QueueCoreError
from .pipelined import PipelinedClient
from .text import ENCODING_ERRORS, pack_command

logger = logging.getLogger("queuecore.connection")

ENV_URL = "QUEUECORE_REDIS_URL"
# Replies are text; bytes that are not UTF-8 (written by hand or by another
# client) become lone surrogates instead of an error that drops the
# connection, and are written back as the same bytes.
TEXT_REPLIES = {"decode_responses": True, "encoding_errors": ENCODING_ERRORS}


_KWARGS_KEPT = (
    "host", "port", "db", "username", "password", "socket_timeout", "socket_connect_timeout",
    "socket_keepalive", "client_name", "ssl", "ssl_certfile", "ssl_keyfile", "ssl_ca_certs",
    "ssl_cert_reqs", "path", "unix_socket_path",
)


class HiredisConnection(redis.asyncio.Connection):
    """redis-py's asyncio connection, with commands encoded by hiredis in C
    (redis-py's own asyncio encoder is pure Python: ~7x slower on a script
    call with twenty arguments, which is most of the worker's calls)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        first = args[0]
        if isinstance(first, str) and " " in first:  # "CLIENT LIST"
            args = (*first.split(), *args[1:])
        try:
            return [pack_command(args)]
        except TypeError:  # a type hiredis does not take: let redis-py say what
            return super().pack_command(*args)

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        # redis-py bounds each send with wait_for, which on Python 3.11 runs the
        # send in a task of its own; a timeout scope bounds it without one.
        timeout = self.socket_timeout
        if not timeout:
            return await super().send_packed_command(command, check_health)
        self.socket_timeout = None
        try:
            async with asyncio.timeout(timeout):
                await super().send_packed_command(command, check_health)
        except TimeoutError:
            await self.disconnect(nowait=True)
            raise RedisTimeoutError("Timeout writing to socket") from None
        finally:
            self.socket_timeout = timeout


def _client_kwargs(client: Any) -> dict[str, Any]:
    kwargs = dict(client.connection_pool.connection_kwargs)
    return {k: v for k, v in kwargs.items() if k in _KWARGS_KEPT and v is not None}


class Connection:
    """Where a queue, worker or event reader talks to Redis.

    ``connection`` is a URL (``redis://``, ``rediss://``, ``unix://``, or
    ``redis+cluster://host:port`` for a cluster), a redis-py client (sync or
    asyncio, plain or cluster), or another ``Connection`` (shared). Without
    one, ``QUEUECORE_REDIS_URL`` is used, then ``redis://localhost:6379``.
    queuecore makes its own clients from it, with replies decoded as text
    (undecodable bytes as lone surrogates, see ``queuecore.text``).
    """

    def __init__(self, connection: Any = None, **client_options: Any) -> None:
        self.cluster = False
        self.url: str | None = None
        self.kwargs: dict[str, Any] = {}
        self.startup_nodes: list[tuple[str, int]] = []
        self.client_options = client_options
        if isinstance(connection, Connection):
            # same server, clients of its own (with these options on top)
            self.cluster, self.url = connection.cluster, connection.url
            self.kwargs, self.startup_nodes = connection.kwargs, connection.startup_nodes
            self.client_options = {**connection.client_options, **client_options}
            self._reset()
            return
        if connection is None:
            connection = os.environ.get(ENV_URL) or "redis://localhost:6379"
        if isinstance(connection, str):
            if connection.startswith(("redis+cluster://", "rediss+cluster://")):
                self.cluster = True
                self.url = connection.replace("+cluster", "", 1)
            else:
                self.url = connection
        elif isinstance(connection, redis.cluster.RedisCluster
                        | redis.asyncio.cluster.RedisCluster):
            self.cluster = True
            self.startup_nodes = [(n.host, n.port) for n in connection.get_nodes()]
        elif isinstance(connection, redis.Redis | redis.asyncio.Redis):
            self.kwargs = _client_kwargs(connection)
        else:
            raise InvalidOptionError(
                f"connection must be a Redis URL, a redis-py client or a Connection, "
                f"not {type(connection).__name__}"
            )
        self._reset()

    def _reset(self) -> None:
        self._sync: Any = None
        self._executor: Executor | None = None
        self._loops: dict[int, _LoopClients] = {}

    # -- clients -----------------------------------------------------------------

    def new_sync_client(self, **options: Any) -> Any:
        opts = {**TEXT_REPLIES, **self.client_options, **options}
        if self.cluster:
            if self.url:
                return redis.cluster.RedisCluster.from_url(self.url, **opts)
            nodes = [redis.cluster.ClusterNode(h, p) for h, p in self.startup_nodes]
            return redis.cluster.RedisCluster(startup_nodes=nodes, **opts)
        if self.url:
            return redis.Redis.from_url(self.url, **opts)
        return redis.Redis(**{**self.kwargs, **opts})

    def new_async_client(self, **options: Any) -> Any:
        opts = {**TEXT_REPLIES, **self.client_options, **options}
        plain_tcp = (self.url or "").startswith("redis://") or (
            not self.url and not self.kwargs.get("ssl") and not self.kwargs.get("path"))
        if plain_tcp and not self.cluster:
            opts.setdefault("connection_class", HiredisConnection)
        if self.cluster:
            opts.pop("single_connection_client", None)  # a cluster client has none
            if self.url:
                return redis.asyncio.cluster.RedisCluster.from_url(self.url, **opts)
            nodes = [redis.asyncio.cluster.ClusterNode(h, p) for h, p in self.startup_nodes]
            return redis.asyncio.cluster.RedisCluster(startup_nodes=nodes, **opts)
        if self.url:
            return redis.asyncio.Redis.from_url(self.url, **opts)
        return redis.asyncio.Redis(**{**self.kwargs, **opts})

    @property
    def sync_client(self) -> Any:
        if self._sync is None:
            self._sync = self.new_sync_client()
        return self._sync

    def _loop_clients(self) -> _LoopClients:
        # asyncio clients belong to the loop they were made in: one set per loop
        loop = asyncio.get_running_loop()
        entry = self._loops.get(id(loop))
        if entry is None or entry.loop is not loop:
            target = self._pipelined_target()
            client = self.new_async_client()
            pipelined = None
            if target is not None:  # the asyncio side bounds its waits itself
                target.pop("timeout"), target.pop("connect_timeout")
                pipelined = PipelinedClient(**target)
            entry = _LoopClients(loop, AsyncExecutor(client, pipelined),
                                 Subscriptions(self) if not self.cluster else None)
            self._loops = {k: v for k, v in self._loops.items() if not v.loop.is_closed()}
            self._loops[id(loop)] = entry
        return entry

    @property
    def async_client(self) -> Any:
        """This loop's asyncio client (pooled) for plain commands."""
        return self._loop_clients().executor.client

    @property
    def pipelined_client(self) -> PipelinedClient | None:
        """This loop's auto-pipelined connection for script calls (None where
        it does not apply: TLS, unix sockets, clusters)."""
        return self._loop_clients().executor.pipelined

    @property
    def async_executor(self) -> AsyncExecutor:
        """Runs requests on this loop's shared clients."""
        return self._loop_clients().executor

    @property
    def subscriptions(self) -> Subscriptions | None:
        """This loop's shared pubsub connection (None on a cluster)."""
        return self._loop_clients().subscriptions

    def _pipelined_target(self) -> dict[str, Any] | None:
        """Where a connection of our own (pipelined, direct) may go, and its
        timeouts: plain TCP, no cluster."""
        if self.cluster:
            return None
        if self.url:
            if not self.url.startswith("redis://"):
                return None
            params = redis.connection.parse_url(self.url)
        else:
            if self.kwargs.get("ssl") or self.kwargs.get("path") \
                    or self.kwargs.get("unix_socket_path"):
                return None
            params = self.kwargs
        params = {**params, **self.client_options}
        return {"host": params.get("host") or "localhost", "port": int(params.get("port") or 6379),
                "db": int(params.get("db") or 0), "username": params.get("username"),
                "password": params.get("password"),
                # the timeouts the sync client would have (URL, client or options)
                "timeout": params.get("socket_timeout"),
                "connect_timeout": params.get("socket_connect_timeout")}

    def close(self) -> None:
        if self._executor is not None and self._executor.direct is not None:
            self._executor.direct.close()
        self._executor = None
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        """Close the sync client and this loop's clients."""
        self.close()
        entry = self._loops.pop(id(asyncio.get_running_loop()), None)
        if entry is not None:
            await entry.aclose()

    # -- running operations ----------------------------------------------------

    def run(self, op: Op[T]) -> T:
        """Drive an operation with the sync client."""
        executor = self._executor
        if executor is None:
            target = self._pipelined_target()
            direct = DirectClient(**target) if target is not None else None
            executor = self._executor = Executor(self.sync_client, direct)
        return executor.run(op)

    async def arun(self, op: Op[T]) -> T:
        """Drive an operation with this loop's clients."""
        return await self._loop_clients().executor.run(op)

    def execute(self, *args: Any) -> Any:
        """One plain command with the sync client (for code outside operations)."""
        return self.run(single(Call(args)))

    def execute_many(self, calls: list[Call]) -> list[Any]:
        """Plain commands in one round trip with the sync client."""
        return self.run(single(Pipeline(calls))) if calls else []


class _LoopClients:
    """One event loop's clients of a ``Connection``."""

    __slots__ = ("executor", "loop", "subscriptions")

    def __init__(self, loop: asyncio.AbstractEventLoop, executor: AsyncExecutor,
                 subscriptions: Subscriptions | None) -> None:
        self.loop, self.executor, self.subscriptions = loop, executor, subscriptions

    async def aclose(self) -> None:
        if self.subscriptions is not None:
            await self.subscriptions.aclose()
        await self.executor.client.aclose()
        if self.executor.pipelined is not None:
            await self.executor.pipelined.aclose()


Handler = Callable[[str], None]


class Subscriptions:
    """Pub/sub channels heard on one connection, shared by the workers of a
    ``Connection`` in one loop (each worker listens for its queue's cancel
    requests). The connection is opened with the first channel and closed
    with the last; once lost it is made again after a second, and every
    channel's ``on_subscribed`` runs after each (re)subscription so that
    what was published meanwhile can be looked up."""

    RETRY_S = 1.0

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._channels: dict[str, list[tuple[Handler, Callable[[], Awaitable[None]]]]] = {}
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None
        self._live = False  # subscribed to every channel in _channels

    async def subscribe(self, channel: str, on_message: Handler,
                        on_subscribed: Callable[[], Awaitable[None]]) -> None:
        """Call ``on_message(data)`` for each message on ``channel``."""
        first = channel not in self._channels
        self._channels.setdefault(channel, []).append((on_message, on_subscribed))
        if self._task is None or self._task.done():
            self._live = False
            self._task = asyncio.ensure_future(self._listen())
        elif self._live:
            if first:
                try:
                    with mapped("SUBSCRIBE"):
                        await self._pubsub.subscribe(channel)
                except QueueCoreError as exc:  # the listener reconnects and subscribes
                    logger.debug("subscribing to %s failed: %s", channel, exc)
                    return
            await _quietly(on_subscribed)

    async def unsubscribe(self, channel: str, on_message: Handler) -> None:
        handlers = self._channels.get(channel, [])
        handlers[:] = [h for h in handlers if h[0] is not on_message]
        if handlers:
            return
        self._channels.pop(channel, None)
        if not self._channels:
            await self.aclose()
        elif self._live:
            with contextlib.suppress(QueueCoreError), mapped("UNSUBSCRIBE"):
                await self._pubsub.unsubscribe(channel)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        self._live = False
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _listen(self) -> None:
        client = self._connection.new_async_client(socket_timeout=None)
        try:
            while self._channels:
                self._pubsub = pubsub = client.pubsub(ignore_subscribe_messages=True)
                try:
                    with mapped("SUBSCRIBE"):
                        done: set[str] = set()
                        while missing := [c for c in self._channels if c not in done]:
                            await pubsub.subscribe(*missing)
                            done.update(missing)
                        self._live = True
                        for handlers in list(self._channels.values()):
                            for _, on_subscribed in list(handlers):
                                await _quietly(on_subscribed)
                        while True:
                            message = await pubsub.get_message(timeout=None)
                            if message is None:
                                continue
                            for on_message, _ in list(self._channels.get(message["channel"],
                                                                         ())):
                                on_message(message["data"])
                except QueueCoreError as exc:
                    logger.debug("pubsub connection lost (%s); subscribing again", exc)
                    await asyncio.sleep(self.RETRY_S)
                finally:
                    self._live = False
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
        finally:
            await client.aclose()


async def _quietly(callback: Callable[[], Awaitable[None]]) -> None:
    try:
        await callback()
    except Exception as exc:  # a lookup that fails now is made again on the next renewal
        logger.debug("after subscribing: %s", exc)
