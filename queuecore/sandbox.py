"""Sandboxed processors: jobs run in a pool of child processes.

CPU-bound processors then use every core, and a child that crashes
(segfault, ``os._exit``) or hangs past its ``timeout`` fails only its job,
with a reason that says which, while the pool starts a new child. In the
child, ``job.update_progress()`` and ``job.log()`` write to Redis themselves,
so progress and logs reach the events stream as usual.

A processor is named by dotted path (``"app.jobs.resize"``), or by any name
that the child set-up hook knows. The engine knows nothing of Django: the
Django side (``QueuecoreConfig.ready()``) registers ``queuecore.conf.sandbox_setup``
with ``set_child_setup()``, which sets Django up in each child and resolves
``"queuecore:<queue>"`` to whatever settings and ``@processor`` give that queue.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import multiprocessing
import signal
import traceback
from multiprocessing.connection import Connection as Pipe
from typing import Any

from .errors import UnrecoverableError
from .options import encode_json

_context = multiprocessing.get_context("spawn")  # no fork of a running event loop

# Dotted path of ``setup(spec) -> processor | None``, run first in every child:
# by path, since a spawned child imports everything afresh.
_child_setup: str | None = None


def set_child_setup(path: str | None) -> None:
    """Run the function at dotted ``path`` first in each sandbox child started
    from now on, with the processor spec: it prepares the child (a framework's
    set-up) and returns the processor for specs it knows, or None to load the
    spec as a dotted path. ``None`` removes the hook."""
    global _child_setup
    _child_setup = path


def child_setup() -> str | None:
    """The dotted path registered with ``set_child_setup()``, if any."""
    return _child_setup


class SandboxedError(Exception):
    """A processor in a child process raised; ``child_traceback`` is its traceback."""

    def __init__(self, message: str, child_traceback: str = "") -> None:
        super().__init__(message)
        self.child_traceback = child_traceback


class SandboxCrashed(Exception):
    """The child process running a job died or hung; the job fails with this."""


def path_of(processor: Any) -> str:
    """A processor's dotted path (it must be importable by name in a child)."""
    if isinstance(processor, str):
        return processor
    module, name = getattr(processor, "__module__", None), getattr(processor, "__qualname__", "")
    if not module or "<" in name or module == "__main__":
        raise ValueError("a sandboxed processor must be a module-level function, or its "
                         f"dotted path as a string (not {processor!r})")
    return f"{module}.{name}"


# -- the child ------------------------------------------------------------------------


def _import(path: str) -> Any:
    module, _, name = path.rpartition(".")
    target: Any = __import__(module, fromlist=[name])
    for part in name.split("."):
        target = getattr(target, part)
    return target


def _load(spec: str, setup: str | None) -> Any:
    if setup:
        found = _import(setup)(spec)
        if found is not None:
            return found
    return _import(spec)


def _child_main(pipe: Pipe, spec: str, url: str | None, prefix: str,
                setup: str | None) -> None:
    from .job import Job
    from .queue import Queue

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when children stop
    processor = _load(spec, setup)
    loop = asyncio.new_event_loop()
    queues: dict[str, Queue] = {}
    while True:
        task = pipe.recv()
        if task is None:
            break
        queue_name, job_id, raw = task
        queue = queues.get(queue_name) or queues.setdefault(
            queue_name, Queue(queue_name, connection=url, prefix=prefix))
        job = Job(queue, job_id, raw)
        try:
            result = processor(job)
            if inspect.isawaitable(result):
                result = loop.run_until_complete(result)
            reply = ("ok", encode_json(result, f"return value of job {job_id}"))
        except Exception as exc:
            kind = "unrecoverable" if isinstance(exc, UnrecoverableError) else "error"
            reply = (kind, str(exc) or type(exc).__name__,
                     "".join(traceback.format_exception(exc)))
        pipe.send(reply)


# -- the parent ------------------------------------------------------------------------


class _Child:
    def __init__(self, spec: str, url: str | None, prefix: str, setup: str | None) -> None:
        self.pipe, child_end = _context.Pipe()
        self.process = _context.Process(target=_child_main,
                                        args=(child_end, spec, url, prefix, setup),
                                        daemon=True, name="queuecore-sandbox")
        self.process.start()
        child_end.close()

    def alive(self) -> bool:
        return self.process.is_alive()

    async def run(self, task: tuple[str, str, dict[str, str]], timeout: float | None) -> Any:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.pipe.send, task)
        ready: asyncio.Future[str] = loop.create_future()

        def readable(what: str) -> None:
            if not ready.done():
                ready.set_result(what)

        loop.add_reader(self.pipe.fileno(), readable, "reply")
        loop.add_reader(self.process.sentinel, readable, "exit")
        try:
            what = await asyncio.wait_for(ready, timeout)
        except TimeoutError:
            self.kill()
            raise SandboxCrashed(f"sandboxed processor timed out after {timeout:g} s; "
                                 "its process was killed") from None
        finally:
            loop.remove_reader(self.pipe.fileno())
            loop.remove_reader(self.process.sentinel)
        if what == "reply" or self.pipe.poll():
            try:
                return self.pipe.recv()
            except (EOFError, OSError):
                pass  # the pipe closed: the child died
        self.process.join(5)
        raise SandboxCrashed(self.death())

    def death(self) -> str:
        code = self.process.exitcode
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            return f"sandboxed process was killed by {name} while running the job"
        return (f"sandboxed process exited with code {code} while running the job "
                "(os._exit or sys.exit in the processor?)")

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)

    def stop(self) -> None:
        try:
            self.pipe.send(None)
        except OSError:
            pass
        self.process.join(5)
        self.kill()


class SandboxPool:
    """``processes`` children running ``spec``; ``await pool.run(job)`` runs one job."""

    def __init__(self, spec: str, processes: int, url: str | None, prefix: str,
                 timeout: float | None = None) -> None:
        self.spec, self.processes, self.url, self.prefix = spec, processes, url, prefix
        self.timeout = timeout
        self.setup = _child_setup  # the hook as it was when the pool was made
        self._idle: asyncio.Queue[_Child] | None = None
        self._children: list[_Child] = []

    async def start(self) -> None:
        self._idle = asyncio.Queue()
        loop = asyncio.get_running_loop()
        for _ in range(self.processes):
            child = await loop.run_in_executor(None, _Child, self.spec, self.url, self.prefix,
                                               self.setup)
            self._children.append(child)
            self._idle.put_nowait(child)

    async def run(self, job: Any) -> Any:
        assert self._idle is not None, "start() the pool first"
        child = await self._idle.get()
        try:
            reply = await child.run((job.queue.name, job.id, job.raw), self.timeout)
        except BaseException:
            child = await self._replace(child)
            raise
        finally:
            self._idle.put_nowait(child)
        kind, *rest = reply
        if kind == "ok":
            return json.loads(rest[0])
        if kind == "unrecoverable":
            raise UnrecoverableError(rest[0])
        raise SandboxedError(rest[0], rest[1])

    async def _replace(self, child: _Child) -> _Child:
        child.kill()
        fresh = await asyncio.get_running_loop().run_in_executor(
            None, _Child, self.spec, self.url, self.prefix, self.setup)
        self._children[self._children.index(child)] = fresh
        return fresh

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(None, c.stop) for c in self._children))
        self._children.clear()
