"""Two Daphne processes with channels-redis as the layer: each follows the
queue once (one follower connection per process), and the viewers of both
get the pushes, each once (no copy from the other process's render)."""

from __future__ import annotations

import base64
import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from dashboard.live import FOLLOWER_NAME
from queuecore import Queue

from .conftest import SESSION_FOR, _manage, _start_daphne, _stop

pytest.importorskip("channels_redis")
pytestmark = pytest.mark.browser  # servers of its own: with the slow tests

WINDOW_S = 3.0


class Socket:
    """A blocking websocket client, enough to read a page's pushes."""

    def __init__(self, base_url: str, path: str, cookie: str) -> None:
        host, port = urlsplit(base_url).hostname, urlsplit(base_url).port
        self.sock = socket.create_connection((host, port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Origin: {base_url}\r\nCookie: {cookie}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert b" 101 " in head.split(b"\r\n", 1)[0], head

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def messages(self, seconds: float) -> Iterator[str]:
        """Text messages until ``seconds`` have passed."""
        end = time.monotonic() + seconds
        parts: list[bytes] = []
        while (left := end - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                first, second = self._exactly(2)
            except TimeoutError:
                return
            self.sock.settimeout(10)
            size = second & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", self._exactly(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", self._exactly(8))
            parts.append(self._exactly(size))
            if first & 0x0F in (0x0, 0x1) and first & 0x80:
                yield b"".join(parts).decode()
                parts = []
            elif first & 0x0F not in (0x0, 0x1):
                parts = []  # a control frame: not a push

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def two_daphnes(live_server_env: dict[str, str], live_server_url: str,
                tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    """Two more Daphne processes on the live server's database and Redis, with
    channels-redis as the layer, and an admin's session cookie."""
    env = {**live_server_env, "DJANGO_SETTINGS_MODULE": "tests.browser.redis_layer_settings"}
    out = _manage(env, "shell", "-c", SESSION_FOR.format(username="admin"))
    name, value = out.split()[-2:]
    servers = [_start_daphne(env, tmp_path) for _ in range(2)]
    try:
        yield [url for _, url in servers], f"{name}={value}"
    finally:
        for proc, _ in servers:
            _stop(proc)


def test_two_processes_follow_once_each_and_push_to_their_own_viewers(
        two_daphnes: tuple[list[str], str], queue: Queue, redis_url: str) -> None:
    urls, cookie = two_daphnes
    queue.add("first")  # the queue exists
    path = f"/ws/queues/{queue.name}/?state=waiting"
    sockets = [Socket(url, path, cookie) for url in urls for _ in range(2)]
    try:
        for s in sockets:  # each page's resync
            assert next(s.messages(5.0), None) is not None
        with redis.Redis.from_url(redis_url, decode_responses=True) as r:
            followers = sum(1 for c in r.client_list() if c.get("name") == FOLLOWER_NAME)
        job = queue.add("arrived")
        pushed = [list(s.messages(WINDOW_S)) for s in sockets]
    finally:
        for s in sockets:
            s.close()
    assert followers == 2  # one per process, whatever its number of viewers
    for messages in pushed:
        assert any(f'id="job-{job.id}"' in m for m in messages)
        assert len(messages) <= WINDOW_S * 2 + 1  # two a second at most: no copies
