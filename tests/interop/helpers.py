"""Helpers of the interop tests: Node scripts as subprocesses, queuecore and
PyPI ``bullmq`` workers in the background, polling."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue as stdlib_queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from queuecore import Job, Worker

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).resolve().with_name("node")
NODE = shutil.which("node")


def node_available() -> bool:
    return NODE is not None and (ROOT / "node_modules" / "bullmq").is_dir()


def _env(timeout: float) -> dict[str, str]:
    return {**os.environ, "INTEROP_MAX_MS": str(int(timeout * 1000))}


class NodeError(Exception):
    """A Node BullMQ operation threw; the message is the error's."""


class NodeQueue:
    """Runs Node BullMQ ``Queue`` operations on one queue (node/ops.js)."""

    def __init__(self, redis_url: str, queue_name: str) -> None:
        self.redis_url = redis_url
        self.queue_name = queue_name

    def ops(self, steps: list[dict[str, Any]], timeout: float = 20.0) -> list[Any]:
        assert NODE is not None
        proc = subprocess.run(
            [NODE, str(NODE_DIR / "ops.js"), self.redis_url, self.queue_name,
             json.dumps(steps)],
            cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=_env(timeout),
            check=False)
        if proc.returncode != 0:
            raise AssertionError(f"node ops.js failed ({proc.returncode}):\n{proc.stderr}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def op(self, op: str, /, **params: Any) -> Any:
        result = self.ops([{"op": op, **params}])[0]
        if isinstance(result, dict) and set(result) == {"error"}:
            raise NodeError(result["error"])
        return result


def node_flow(redis_url: str, op: str, timeout: float = 20.0, **params: Any) -> Any:
    """One FlowProducer operation in Node BullMQ (node/flow.js)."""
    assert NODE is not None
    proc = subprocess.run(
        [NODE, str(NODE_DIR / "flow.js"), redis_url, "-", json.dumps({"op": op, **params})],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=_env(timeout),
        check=False)
    if proc.returncode != 0:
        raise NodeError(proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else
                        f"flow.js exited with {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class NodeProcess:
    """A long-running Node script that prints JSON lines (worker.js, events.js)."""

    def __init__(self, script: str, redis_url: str, queue_name: str,
                 params: dict[str, Any] | None = None, timeout: float = 30.0) -> None:
        assert NODE is not None
        self.timeout = timeout
        self.proc = subprocess.Popen(
            [NODE, str(NODE_DIR / script), redis_url, queue_name, json.dumps(params or {})],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=_env(timeout))
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Condition()
        self._stderr: stdlib_queue.Queue[str] = stdlib_queue.Queue()
        self._eof = False
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                message = json.loads(line)
            except ValueError:
                message = {"event": "__text__", "text": line}
            with self._lock:
                self.messages.append(message)
                self._lock.notify_all()
        with self._lock:
            self._eof = True
            self._lock.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.put(line)

    def stderr(self) -> str:
        lines = []
        while not self._stderr.empty():
            lines.append(self._stderr.get_nowait())
        return "".join(lines)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], count: int = 1,
                 timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until ``count`` messages match; returns the matching ones."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [m for m in self.messages if predicate(m)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    raise AssertionError(
                        f"node {self.proc.args[1]}: {len(found)}/{count} matching messages "
                        f"after {timeout} s; got {self.messages}; stderr: {self.stderr()}")
                self._lock.wait(min(left, 0.1))

    def wait_event(self, event: str, job_id: str | None = None, count: int = 1,
                   timeout: float = 10.0) -> list[dict[str, Any]]:
        return self.wait_for(
            lambda m: m.get("event") == event and (job_id is None
                                                    or str(m.get("id", m.get("jobId"))) == job_id),
            count, timeout)

    def events(self, event: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.messages if m.get("event") == event]

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def close(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.send("close")
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()


class WorkerThread:
    """A queuecore ``Worker`` running in a background thread."""

    def __init__(self, worker: Worker, release: threading.Event | None = None) -> None:
        self.worker = worker
        self.release = release or threading.Event()  # set before closing
        self.thread = threading.Thread(target=worker.run, daemon=True)
        self.thread.start()

    def close(self, timeout: float = 10.0) -> None:
        self.release.set()
        self.worker.close(timeout)
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "queuecore worker did not stop"


def queuecore_processor(release: threading.Event) -> Callable[[Job], Any]:
    """The queuecore twin of node/worker.js's processor (modes echo, fail,
    flaky, block, progress, log); "block" waits for ``release``."""

    def processor(job: Job) -> Any:
        data = job.data if isinstance(job.data, dict) else {}
        mode = data.get("mode", job.name)
        if mode == "fail":
            raise RuntimeError(data.get("message", "queuecore boom"))
        if mode == "flaky" and job.attempts_made < data.get("failTimes", 1):
            raise RuntimeError(f"flaky failure {job.attempts_made + 1}")
        if mode == "block":
            release.wait(20)
        if mode == "progress":
            for value in data.get("progress", []):
                job.update_progress(value)
        if mode == "log":
            for line in data.get("lines", []):
                job.log(line)
        if mode == "children":
            return {"children": job.get_children_values(), "by": "queuecore"}
        return {"echo": data, "by": "queuecore", "attemptsMade": job.attempts_made}

    return processor


def run_pypi_worker(redis_url: str, queue_name: str, processor: Callable[..., Any],
                    done: Callable[[], bool], opts: dict[str, Any] | None = None,
                    timeout: float = 10.0) -> None:
    """Run a PyPI ``bullmq`` Worker until ``done()`` (checked from its loop)."""
    import bullmq

    async def main() -> None:
        worker = bullmq.Worker(queue_name, processor,
                               {"connection": redis_url, "drainDelay": 1, **(opts or {})})
        try:
            deadline = time.monotonic() + timeout
            while not done():
                if time.monotonic() > deadline:
                    raise AssertionError(f"PyPI bullmq worker: not done after {timeout} s")
                await asyncio.sleep(0.05)
        finally:
            await asyncio.wait_for(worker.close(), timeout)

    asyncio.run(main())
