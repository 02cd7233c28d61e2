"""Processors used by the runworker tests (named by dotted path in
tests/runworker_settings.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from queuecore import Job


async def echo(job: Job) -> Any:
    if isinstance(job.data, dict) and job.data.get("fail"):
        raise RuntimeError("asked to fail")
    return {"echo": job.data}


async def slow(job: Job) -> str:
    await asyncio.sleep(job.data.get("seconds", 1))
    return "finished"
