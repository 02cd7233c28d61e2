"""Plain blocking sockets for the sync API's script calls.

A script call through redis-py's sync client costs about 30 µs of Python
(pool checkout, observability hooks, response callbacks) around a round
trip that needs one ``sendall`` and one ``recv``; this client packs with
hiredis, sends, and reads the reply with a hiredis reader, nothing else.
Idle sockets wait in a list (taken and put back atomically, so threads
share it without a lock); one the server closed meanwhile is dropped before
use, and one that fails during a call is dropped, never reused.

Only script calls (``Eval``) use it, as with ``queuecore.pipelined``: their
replies are plain RESP.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .pipelined import CONNECT_TIMEOUT_S, handshake, reply_error
from .text import ENCODING_ERRORS, pack_command

READ_SIZE = 65536


class _Socket:
    __slots__ = ("reader", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = hiredis.Reader(encoding="utf-8", errors=ENCODING_ERRORS)

    def usable(self) -> bool:
        """Still open at the other end: an idle socket the server closed
        (a restart, CLIENT KILL, its idle timeout) is dropped before use, as
        nothing was sent on it yet."""
        sock = self.sock
        timeout = sock.gettimeout()
        if timeout is not None:  # with a timeout Python waits for data before recv
            sock.settimeout(0)
        try:
            sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True  # nothing to read: open, as expected
        except OSError:
            pass
        finally:
            if timeout is not None:
                sock.settimeout(timeout)
        sock.close()  # closed, or bytes nobody asked for
        return False

    def call(self, packed: bytes) -> Any:
        self.sock.sendall(packed)
        reader = self.reader
        while True:
            reply = reader.gets()
            if reply is not False:
                return reply
            data = self.sock.recv(READ_SIZE)
            if not data:
                raise RedisConnectionError("connection to Redis closed")
            reader.feed(data)


class DirectClient:
    """Blocking connections to ``host:port`` (AUTH and SELECT on connect)."""

    def __init__(self, host: str, port: int, *, db: int = 0, username: str | None = None,
                 password: str | None = None, timeout: float | None = None,
                 connect_timeout: float | None = None) -> None:
        self.host, self.port, self.db = host, port, db
        self.username, self.password = username, password
        self.timeout = timeout
        self.connect_timeout = connect_timeout or CONNECT_TIMEOUT_S
        self._idle: list[_Socket] = []
        self._pid = os.getpid()

    def _connect(self) -> _Socket:
        try:
            sock = socket.create_connection((self.host, self.port), self.connect_timeout)
        except OSError as exc:
            raise RedisConnectionError(
                f"cannot connect to Redis at {self.host}:{self.port}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.timeout)
        conn = _Socket(sock)
        for command in handshake(self.username, self.password, self.db):
            reply = self._call(conn, pack_command(command))
            if isinstance(reply, hiredis.ReplyError):
                sock.close()
                raise reply_error(reply)
        return conn

    def _call(self, conn: _Socket, packed: bytes) -> Any:
        try:
            return conn.call(packed)
        except BaseException as exc:
            conn.sock.close()  # a reply may still be owed: never reuse it
            if isinstance(exc, TimeoutError):
                raise RedisTimeoutError(f"Timeout reading from Redis: {exc}") from exc
            if isinstance(exc, OSError | hiredis.ProtocolError):
                raise RedisConnectionError(f"connection to Redis lost: {exc}") from exc
            raise

    def execute(self, *args: Any) -> Any:
        try:
            packed = pack_command(args)
        except TypeError as exc:  # what redis-py refuses too (a dict, None, ...)
            raise DataError(f"Invalid input: {exc}") from exc
        if self._pid != os.getpid():  # forked: the parent's sockets are not ours
            self._idle, self._pid = [], os.getpid()
        while True:
            try:
                conn = self._idle.pop()
            except IndexError:
                conn = self._connect()
                break
            if conn.usable():
                break
        reply = self._call(conn, packed)
        self._idle.append(conn)
        if isinstance(reply, hiredis.ReplyError):
            raise reply_error(reply)
        return reply

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.sock.close()
