"""Processors for the sandbox tests: they run in child processes, so they live
in a module the children can import."""

from __future__ import annotations

import ctypes
import os
import time

from queuecore import Job, UnrecoverableError


def cpu(job: Job) -> dict[str, int]:
    """About ``ms`` milliseconds of pure-Python arithmetic."""
    end = time.perf_counter() + job.data.get("ms", 20) / 1000
    n = 0
    while time.perf_counter() < end:
        n += 1
    return {"pid": os.getpid(), "loops": n}


async def with_progress(job: Job) -> str:
    await job.aupdate_progress(50)
    await job.alog("half way, in the child")
    job.update_progress(100)
    return "done"


def crash(job: Job) -> None:
    kind = job.data["how"]
    if kind == "segfault":
        ctypes.string_at(0)  # reads address 0: SIGSEGV
    elif kind == "exit":
        os._exit(3)
    elif kind == "hang":
        time.sleep(60)
    elif kind == "raise":
        raise ValueError("bad value in the child")
    elif kind == "unrecoverable":
        raise UnrecoverableError("give up")


def sleepy(job: Job) -> str:
    time.sleep(60)  # cancelled: the child is killed
    return "woke"


def django_loaded(job: Job) -> bool:
    """Whether Django was imported in this child (only the Django side asks for it)."""
    import sys

    return "django" in sys.modules
