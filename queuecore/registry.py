"""Processors by queue (and job name), registered with ``@processor`` in an
app's ``jobs.py`` (found at start-up like ``admin.py``) or named by dotted
path in settings. No Django imports here: a plain script can register too."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from .errors import UnrecoverableError
from .job import Job

Processor = Callable[[Job], Any]

# queue -> job name (None: any name) -> processor
_registry: dict[str, dict[str | None, Processor]] = {}


def processor(queue: str, name: str | None = None) -> Callable[[Processor], Processor]:
    """``@processor("email")`` runs every job of the queue;
    ``@processor("tasks", name="send-email")`` only jobs with that name."""

    def register(fn: Processor) -> Processor:
        known = _registry.setdefault(queue, {})
        if name in known and known[name] is not fn:
            what = f"jobs named {name!r} of queue {queue!r}" if name else f"queue {queue!r}"
            raise ValueError(f"{what} already have a processor: {known[name].__qualname__}")
        known[name] = fn
        return fn

    return register


def registered_queues() -> list[str]:
    return sorted(_registry)


def processors_for(queue: str) -> dict[str | None, Processor]:
    return dict(_registry.get(queue, {}))


def dispatcher(queue: str, processors: dict[str | None, Processor]) -> Processor:
    """One processor for a queue: by job name, else the queue's own; a job
    nobody handles fails at once with a reason that says so."""
    if list(processors) == [None]:
        return processors[None]

    async def dispatch(job: Job) -> Any:
        fn = processors.get(job.name) or processors.get(None)
        if fn is None:
            raise UnrecoverableError(
                f"no processor for jobs named {job.name!r} in queue {queue!r} "
                f"(known: {', '.join(sorted(n for n in processors if n)) or 'none'})")
        if inspect.iscoroutinefunction(fn):
            return await fn(job)
        return await asyncio.get_running_loop().run_in_executor(None, fn, job)

    return dispatch


def clear() -> None:
    """Forget every registration (tests)."""
    _registry.clear()
