"""Redis connections and the one place that performs I/O.

Operations are written once, as generators that yield requests (``Call``,
``Eval``, ``Pipeline``) and receive replies; ``Connection.run`` drives one with
the sync client and ``Connection.arun`` with the asyncio client. ``twin`` turns
such a generator method into the sync/async method pair (``add``/``aadd``).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, NoScriptError, RedisError
from redis.exceptions import OutOfMemoryError as RedisOutOfMemoryError
from redis.exceptions import ReadOnlyError as RedisReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import lua_loader
from .errors import (
    REDIS_ERROR_PREFIXES,
    ConnectionFailedError,
    InvalidOptionError,
    OutOfMemoryError,
    QueueCoreError,
    ReadOnlyError,
    RedisCommandError,
)
from .pipelined import PipelinedClient
from .text import ENCODING_ERRORS, all_as_bytes, pack_command

ENV_URL = "QUEUECORE_REDIS_URL"
# Replies are text; bytes that are not UTF-8 (written by hand or by another
# client) become lone surrogates instead of an error that drops the
# connection, and are written back as the same bytes.
TEXT_REPLIES = {"decode_responses": True, "encoding_errors": ENCODING_ERRORS}


@dataclass(slots=True)
class Call:
    """One plain Redis command."""

    args: tuple[Any, ...]


@dataclass(slots=True)
class Eval:
    """One Lua script call."""

    script: str
    keys: list[str]
    args: list[Any]


@dataclass(slots=True)
class Pipeline:
    """Plain commands sent in one round trip (not a transaction). With
    ``tolerant``, a command Redis refuses (a key of the wrong type) gives its
    queuecore error in its place in the replies instead of raising, so one
    broken key does not hide the other replies."""

    calls: list[Call]
    tolerant: bool = False


Request = Call | Eval | Pipeline
T = TypeVar("T")
P = ParamSpec("P")
S = TypeVar("S")
Op = Generator[Request, Any, T]

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
            self._sync = None
            self._async = {}
            self._pipelined = {}
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
        self._sync: Any = None
        self._async: dict[int, Any] = {}
        self._pipelined: dict[int, tuple[asyncio.AbstractEventLoop, PipelinedClient]] = {}

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

    @property
    def async_client(self) -> Any:
        # asyncio clients belong to the loop they were made in: one per loop
        loop = asyncio.get_running_loop()
        entry = self._async.get(id(loop))
        if entry is None or entry[0] is not loop:
            entry = (loop, self.new_async_client())
            self._async = {k: v for k, v in self._async.items() if not v[0].is_closed()}
            self._async[id(loop)] = entry
        return entry[1]

    def _pipelined_target(self) -> dict[str, Any] | None:
        """Where an auto-pipelined connection may go: plain TCP, no cluster."""
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
                "password": params.get("password")}

    @property
    def pipelined_client(self) -> PipelinedClient | None:
        """This loop's auto-pipelined connection for script calls (None where
        it does not apply: TLS, unix sockets, clusters)."""
        loop = asyncio.get_running_loop()
        entry = self._pipelined.get(id(loop))
        if entry is None or entry[0] is not loop:
            target = self._pipelined_target()
            if target is None:
                return None
            entry = (loop, PipelinedClient(**target))
            self._pipelined = {k: v for k, v in self._pipelined.items() if not v[0].is_closed()}
            self._pipelined[id(loop)] = entry
        return entry[1]

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        self.close()
        loop = asyncio.get_running_loop()
        entry = self._async.pop(id(loop), None)
        if entry is not None:
            await entry[1].aclose()
        pipelined = self._pipelined.pop(id(loop), None)
        if pipelined is not None:
            await pipelined[1].aclose()

    # -- running operations ----------------------------------------------------

    def run(self, op: Op[T]) -> T:
        """Drive an operation with the sync client."""
        client = self.sync_client
        try:
            request = next(op)
            while True:
                request = op.send(self._execute(client, request))
        except StopIteration as stop:
            return stop.value

    async def arun(self, op: Op[T]) -> T:
        """Drive an operation with the asyncio client."""
        client = self.async_client
        pipelined = self.pipelined_client
        try:
            request = next(op)
            while True:
                request = op.send(await self._aexecute(client, request, pipelined))
        except StopIteration as stop:
            return stop.value

    def execute(self, *args: Any) -> Any:
        """One plain command with the sync client (for code outside operations)."""
        return self.run(_single(Call(args)))

    def execute_many(self, calls: list[Call]) -> list[Any]:
        """Plain commands in one round trip with the sync client."""
        return self.run(_single(Pipeline(calls))) if calls else []

    def _execute(self, client: Any, request: Request) -> Any:
        try:
            if isinstance(request, Eval):
                return _eval(client.execute_command, request)
            if isinstance(request, Call):
                return client.execute_command(*request.args)
            pipe = client.pipeline(transaction=False)
            for call in request.calls:
                pipe.execute_command(*call.args)
            return _replies(request, pipe.execute(raise_on_error=not request.tolerant))
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise ConnectionFailedError(f"Redis is unreachable: {exc}") from exc
        except UnicodeEncodeError as exc:  # hiredis packs text strictly, before sending
            return self._execute(client, _as_bytes(request, exc))
        except RedisError as exc:
            raise redis_error(exc, request) from exc

    async def _aexecute(self, client: Any, request: Request,
                        pipelined: PipelinedClient | None = None) -> Any:
        try:
            if isinstance(request, Eval):
                send = pipelined.execute if pipelined is not None else client.execute_command
                return await _aeval(send, request)
            if isinstance(request, Call):
                return await client.execute_command(*request.args)
            pipe = client.pipeline(transaction=False)
            for call in request.calls:
                pipe.execute_command(*call.args)
            return _replies(request, await pipe.execute(raise_on_error=not request.tolerant))
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise ConnectionFailedError(f"Redis is unreachable: {exc}") from exc
        except UnicodeEncodeError as exc:
            return await self._aexecute(client, _as_bytes(request, exc), pipelined)
        except RedisError as exc:
            raise redis_error(exc, request) from exc


def queuecore_error(exc: BaseException) -> BaseException:
    """The queuecore error for one that redis-py (or the socket) raised outside
    an operation, such as a worker's blocking wait: what the driver raises."""
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError):
        error: BaseException = ConnectionFailedError(f"Redis is unreachable: {exc}")
    elif isinstance(exc, RedisError):
        error = redis_error(exc, Call(("a command",)))
    else:
        return exc
    error.__cause__ = exc
    return error


def _as_bytes(request: Request, refused: UnicodeEncodeError) -> Request:
    """The request with its text as bytes: a name or id read with a byte that
    was not UTF-8 (a lone surrogate) goes back to Redis as that byte. Text
    that stands for no bytes (a lone U+D800) is refused before sending."""
    try:
        if isinstance(request, Eval):
            return Eval(request.script, list(all_as_bytes(request.keys)),
                        list(all_as_bytes(request.args)))
        if isinstance(request, Call):
            return Call(all_as_bytes(request.args))
        return Pipeline([Call(all_as_bytes(call.args)) for call in request.calls],
                        request.tolerant)
    except UnicodeEncodeError:
        raise redis_error(refused, request) from refused


def _replies(request: Pipeline, replies: list[Any]) -> list[Any]:
    """A tolerant pipeline's replies with each refusal as its queuecore error."""
    if not request.tolerant:
        return replies
    return [redis_error(reply, call) if isinstance(reply, RedisError) else reply
            for call, reply in zip(request.calls, replies, strict=True)]


def describe(request: Request) -> str:
    """A request as error messages name it."""
    if isinstance(request, Eval):
        return f"script {request.script}"
    if isinstance(request, Call):
        return str(request.args[0])
    return f"pipeline ({', '.join(sorted({str(c.args[0]) for c in request.calls}))})"


def redis_error(exc: Exception, request: Request) -> QueueCoreError:
    """The queuecore error for what redis-py raised (its class, or the first
    word of Redis's reply: WRONGTYPE, OOM, READONLY), naming the request."""
    what = describe(request)
    if isinstance(exc, UnicodeEncodeError | DataError):  # refused before sending
        return InvalidOptionError(f"{what}: an argument cannot be sent to Redis: {exc}")
    text = str(exc)
    # redis-py strips the word of the errors it has classes for
    if isinstance(exc, RedisOutOfMemoryError):
        cls, text = OutOfMemoryError, f"OOM {text}"
    elif isinstance(exc, RedisReadOnlyError):
        cls, text = ReadOnlyError, f"READONLY {text}"
    else:  # in a pipeline: "Command # 1 (...) of pipeline caused error: [('] WRONGTYPE ..."
        word = text.rpartition("caused error: ")[2].lstrip("('\"").partition(" ")[0]
        cls = REDIS_ERROR_PREFIXES.get(word, RedisCommandError)
    return cls(f"Redis refused {what}: {text}", what)


def _single(request: Request) -> Op[Any]:
    return (yield request)


def _eval(send: Callable[..., Any], request: Eval) -> Any:
    """EVALSHA, and EVAL when the server does not have the script (yet)."""
    script = lua_loader.load(request.script)
    n = len(request.keys)
    try:
        return send("EVALSHA", script.sha, n, *request.keys, *request.args)
    except NoScriptError:
        return send("EVAL", script.source, n, *request.keys, *request.args)


async def _aeval(send: Callable[..., Awaitable[Any]], request: Eval) -> Any:
    script = lua_loader.load(request.script)
    n = len(request.keys)
    try:
        return await send("EVALSHA", script.sha, n, *request.keys, *request.args)
    except NoScriptError:
        return await send("EVAL", script.source, n, *request.keys, *request.args)


def twin(
    op: Callable[Concatenate[S, P], Op[T]],
) -> tuple[Callable[Concatenate[S, P], T], Callable[Concatenate[S, P], Awaitable[T]]]:
    """The sync and async methods of one operation; ``self.connection`` runs it."""

    @functools.wraps(op)
    def sync(self: Any, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.connection.run(op(self, *args, **kwargs))

    @functools.wraps(op)
    async def asynchronous(self: Any, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.connection.arun(op(self, *args, **kwargs))

    return sync, asynchronous
