"""Operations, and the one driver that runs them.

Operations are written once, as generators that yield requests (``Call``,
``Eval``, ``Pipeline``) and receive replies. An ``Executor`` runs requests on
a sync redis-py client, an ``AsyncExecutor`` on an asyncio one (script calls
on an auto-pipelined connection when it has one); their ``run`` drives an
operation to its end. ``twin`` turns a generator method into the sync/async
method pair (``add``/``aadd``). What Redis (or redis-py, or the socket)
raises becomes a queuecore error here and nowhere else: ``redis_error`` for
a refused request, ``mapped`` for calls made outside a request (a pubsub
subscription, discovery's SCAN).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

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
from .text import all_as_bytes

if TYPE_CHECKING:
    from .direct import DirectClient
    from .pipelined import PipelinedClient


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

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class Executor:
    """Runs requests on one sync redis-py client; script calls go on
    ``direct`` (plain sockets) when given."""

    __slots__ = ("client", "direct")

    def __init__(self, client: Any, direct: DirectClient | None = None) -> None:
        self.client = client
        self.direct = direct

    def __call__(self, request: Request) -> Any:
        client = self.client
        try:
            if type(request) is Eval:
                send = client.execute_command if self.direct is None else self.direct.execute
                script = lua_loader.load(request.script)
                try:
                    return send("EVALSHA", script.sha, len(request.keys),
                                *request.keys, *request.args)
                except NoScriptError:
                    return send("EVAL", script.source, len(request.keys),
                                *request.keys, *request.args)
            if type(request) is Call:
                return client.execute_command(*request.args)
            pipe = client.pipeline(transaction=False)
            for call in request.calls:  # type: ignore[union-attr]
                pipe.execute_command(*call.args)
            return _replies(request, pipe.execute(raise_on_error=not request.tolerant))
        except UnicodeEncodeError as exc:  # hiredis packs text strictly, before sending
            return self(_as_bytes(request, exc))
        except QueueCoreError:
            raise
        except UNREACHABLE as exc:
            raise unreachable(exc) from exc
        except RedisError as exc:
            raise redis_error(exc, request) from exc

    def run(self, op: Op[T]) -> T:
        """Drive an operation to its end."""
        try:
            request = next(op)
            while True:
                request = op.send(self(request))
        except StopIteration as stop:
            return stop.value


class AsyncExecutor:
    """Runs requests on one asyncio redis-py client; script calls go on
    ``pipelined`` (an auto-pipelined connection) when given."""

    __slots__ = ("client", "pipelined")

    def __init__(self, client: Any, pipelined: PipelinedClient | None = None) -> None:
        self.client = client
        self.pipelined = pipelined

    async def __call__(self, request: Request) -> Any:
        try:
            if type(request) is Eval:
                send = self.client.execute_command if self.pipelined is None \
                    else self.pipelined.execute
                script = lua_loader.load(request.script)
                try:
                    return await send("EVALSHA", script.sha, len(request.keys),
                                      *request.keys, *request.args)
                except NoScriptError:
                    return await send("EVAL", script.source, len(request.keys),
                                      *request.keys, *request.args)
            if type(request) is Call:
                return await self.client.execute_command(*request.args)
            pipe = self.client.pipeline(transaction=False)
            for call in request.calls:  # type: ignore[union-attr]
                pipe.execute_command(*call.args)
            return _replies(request,
                            await pipe.execute(raise_on_error=not request.tolerant))
        except UnicodeEncodeError as exc:
            return await self(_as_bytes(request, exc))
        except QueueCoreError:
            raise
        except UNREACHABLE as exc:
            raise unreachable(exc) from exc
        except RedisError as exc:
            raise redis_error(exc, request) from exc

    async def run(self, op: Op[T]) -> T:
        """Drive an operation to its end."""
        try:
            request = next(op)
            while True:
                request = op.send(await self(request))
        except StopIteration as stop:
            return stop.value


def unreachable(exc: BaseException) -> ConnectionFailedError:
    return ConnectionFailedError(f"Redis is unreachable: {exc}")


@contextlib.contextmanager
def mapped(what: str) -> Iterator[None]:
    """Raise what redis-py raises in the block as queuecore errors, naming
    ``what`` (for calls that are no request: a pubsub subscription)."""
    try:
        yield
    except QueueCoreError:
        raise
    except UNREACHABLE as exc:
        raise unreachable(exc) from exc
    except RedisError as exc:
        raise redis_error(exc, Call((what,))) from exc


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


def single(request: Request) -> Op[Any]:
    """The operation of one request."""
    return (yield request)


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
