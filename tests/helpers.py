"""Shared by the fault and cluster tests: bounded waits, workers in a thread,
and workers in a child process (``tests/worker_proc.py``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from queuecore import Worker

T = TypeVar("T")
WORKER_SCRIPT = Path(__file__).with_name("worker_proc.py")
REPO = Path(__file__).resolve().parent.parent


def wait_for(predicate: Callable[[], T], timeout: float = 15.0, interval: float = 0.05,
             what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} "
                                 f"(last value: {value!r})")
        time.sleep(interval)


@contextmanager
def running_worker(*args: Any, close_timeout: float = 30.0, **kwargs: Any) -> Iterator[Worker]:
    """A ``Worker`` running in a thread for the body of the ``with``; closed after,
    and the test fails if it does not stop in ``close_timeout`` seconds."""
    worker = Worker(*args, **kwargs)
    worker.start()
    try:
        yield worker
    finally:
        worker.close(timeout=close_timeout)
        thread = worker._thread
        if thread is not None:
            thread.join(1.0)
            assert not thread.is_alive(), "worker thread did not stop within the timeout"


class Recorder:
    """Collects worker events from any thread."""

    def __init__(self, worker: Worker, *events: str) -> None:
        self.lock = threading.Lock()
        self.seen: dict[str, list[tuple[Any, ...]]] = {e: [] for e in events}
        for event in events:
            worker.on(event, self._recorder(event))

    def _recorder(self, event: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            with self.lock:
                self.seen[event].append(args)
        return record

    def __getitem__(self, event: str) -> list[tuple[Any, ...]]:
        with self.lock:
            return list(self.seen[event])


class WorkerProcess:
    """``tests/worker_proc.py`` in a child process of its own (process group too),
    killed for sure by ``stop`` / the ``with`` exit."""

    def __init__(self, url: str, queue: str, *, prefix: str = "bull", mode: str = "block",
                 lock_duration: int = 1000, stalled_interval: int = 1000,
                 concurrency: int = 1, grace: float | None = None) -> None:
        self.argv = [sys.executable, str(WORKER_SCRIPT), "--url", url, "--queue", queue,
                     "--prefix", prefix, "--mode", mode,
                     "--lock-duration", str(lock_duration),
                     "--stalled-interval", str(stalled_interval),
                     "--concurrency", str(concurrency)]
        if grace is not None:
            self.argv += ["--grace", str(grace)]
        self.process: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self._reader: threading.Thread | None = None
        self._cond = threading.Condition()

    def start(self) -> WorkerProcess:
        self.process = subprocess.Popen(
            self.argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
            # this checkout's queuecore, not whichever one the venv has installed
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_line(self, prefix: str, timeout: float = 15.0) -> str:
        """The first output line starting with ``prefix`` (waits for it)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if line.startswith(prefix):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.process is not None and self.process.poll() is not None
                                 and not self._reader_alive()):
                    raise AssertionError(f"worker process printed no {prefix!r} line in "
                                         f"{timeout} s; output:\n" + "\n".join(self.lines))
                self._cond.wait(min(left, 0.2))

    def _reader_alive(self) -> bool:
        return self._reader is not None and self._reader.is_alive()

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (the script closes its worker), SIGKILL if it takes too long."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._reader is not None:
            self._reader.join(5)
        return self.process.returncode

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        try:
            self.kill()
        finally:
            if self._reader is not None:
                self._reader.join(5)
