"""Backoff strategies: how long to wait before the next attempt of a failed job."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

# A custom strategy gets (attempts made, the backoff options, the error, the job)
# and returns a delay in ms, or -1 to stop retrying.
Strategy = Callable[[int, dict[str, Any], BaseException, Any], int]
_custom: dict[str, Strategy] = {}


def register(name: str, strategy: Strategy) -> None:
    """Register a custom backoff strategy, used as ``backoff={"type": name}``."""
    if name in ("fixed", "exponential"):
        raise ValueError(f"{name!r} is a built-in backoff type")
    _custom[name] = strategy


def is_known(name: str) -> bool:
    return name in ("fixed", "exponential") or name in _custom


def known_names() -> list[str]:
    return ["fixed", "exponential", *_custom]


def _jitter(delay: float, jitter: float) -> int:
    # BullMQ: uniform in [delay * (1 - jitter), delay)
    if jitter:
        return int(delay * (1 - jitter) + random.random() * delay * jitter)
    return int(delay)


def delay_for(backoff: dict[str, Any] | None, attempts_made: int, error: BaseException,
              job: Any) -> int:
    """Delay before the next attempt; ``attempts_made`` counts the one that failed.
    -1 means do not retry."""
    if not backoff:
        return 0
    kind = backoff.get("type", "fixed")
    delay = backoff.get("delay", 0) or 0
    if kind == "fixed":
        return _jitter(delay, backoff.get("jitter", 0))
    if kind == "exponential":
        return _jitter(round(2 ** (attempts_made - 1) * delay), backoff.get("jitter", 0))
    strategy = _custom.get(kind)
    if strategy is None:
        raise LookupError(f"unknown backoff type {kind!r}: register it with "
                          "queuecore.backoff.register() in every worker process")
    return int(strategy(attempts_made, backoff, error, job))
