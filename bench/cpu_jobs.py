"""The CPU-bound processor of bench/sandbox.py (importable by the child processes)."""

from __future__ import annotations

import time
from typing import Any


def spin(loops: int) -> int:
    total = 0
    for i in range(loops):
        total += i * i % 7
    return total


def loops_for(ms: float) -> int:
    """How many loops of ``spin`` take about ``ms`` milliseconds of CPU here."""
    loops = 10_000
    while True:
        start = time.process_time()
        spin(loops)
        took = (time.process_time() - start) * 1000
        if took > 50:
            return int(loops * ms / took)
        loops *= 2


def burn(job: Any) -> int:
    """A fixed amount of pure-Python work (it holds the GIL throughout)."""
    return spin(job.data["loops"])
