"""Queue-wide rate limits and concurrency, as BullMQ 6.7 stores them.

* ``meta.concurrency``: at most this many jobs active across all workers.
* ``meta.max`` / ``meta.duration``: at most ``max`` job starts per fixed window
  of ``duration`` ms, counted in the ``limiter`` key (the first start of a
  window creates it with that expiry). A worker's own ``limiter`` shares the
  same key; ``meta.max`` overrides the worker's max, the worker's duration
  overrides ``meta.duration`` (BullMQ's asymmetry).
* ``rate_limit(ms)`` sets the limiter counter to 2^53-1 for ``ms``: every
  worker with a limit (its own or the global one) stops fetching until then.

``RateLimits`` is mixed into ``Queue``; every method has an ``a``-prefixed
asyncio twin.
"""

from __future__ import annotations

from typing import Any

from . import scripts
from .driver import Call, Op, twin
from .errors import InvalidOptionError
from .keys import QueueKeys

MAX_SAFE_INTEGER = 2**53 - 1  # what BullMQ writes to the limiter for a manual limit


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidOptionError(f"{name} must be an integer >= 1, not {value!r}")
    return value


def _meta_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:  # written by hand: read it as absent rather than fail
        return None


def check_limiter(limiter: Any) -> dict[str, int]:
    """A worker's ``limiter`` option: ``{"max": jobs, "duration": ms}``, both >= 1."""
    if not isinstance(limiter, dict) or set(limiter) != {"max", "duration"}:
        raise InvalidOptionError(
            f"limiter must be {{'max': jobs, 'duration': ms}}, not {limiter!r}")
    return {"max": _count("limiter max", limiter["max"]),
            "duration": _count("limiter duration", limiter["duration"])}


class RateLimits:
    """Global concurrency and rate limits of a queue (mixed into ``Queue``)."""

    keys: QueueKeys

    def _set_global_concurrency(self, concurrency: int) -> Op[None]:
        """At most ``concurrency`` jobs of this queue active at once, over all workers."""
        _count("global concurrency", concurrency)
        yield Call(("HSET", self.keys["meta"], "concurrency", concurrency))

    set_global_concurrency, aset_global_concurrency = twin(_set_global_concurrency)

    def _get_global_concurrency(self) -> Op[int | None]:
        """The global concurrency, or None when there is none."""
        return _meta_int((yield Call(("HGET", self.keys["meta"], "concurrency"))))

    get_global_concurrency, aget_global_concurrency = twin(_get_global_concurrency)

    def _remove_global_concurrency(self) -> Op[None]:
        yield Call(("HDEL", self.keys["meta"], "concurrency"))

    remove_global_concurrency, aremove_global_concurrency = twin(_remove_global_concurrency)

    def _set_global_rate_limit(self, max: int, duration: int) -> Op[None]:
        """At most ``max`` job starts per ``duration`` ms, for every worker of the queue."""
        _count("global rate limit max", max)
        _count("global rate limit duration", duration)
        yield Call(("HSET", self.keys["meta"], "max", max, "duration", duration))

    set_global_rate_limit, aset_global_rate_limit = twin(_set_global_rate_limit)

    def _get_global_rate_limit(self) -> Op[dict[str, int] | None]:
        """``{"max": jobs, "duration": ms}``, or None unless both are set."""
        most, per = yield Call(("HMGET", self.keys["meta"], "max", "duration"))
        most, per = _meta_int(most), _meta_int(per)
        if most is None or per is None:  # BullMQ: null unless both are set
            return None
        return {"max": most, "duration": per}

    get_global_rate_limit, aget_global_rate_limit = twin(_get_global_rate_limit)

    def _remove_global_rate_limit(self) -> Op[None]:
        yield Call(("HDEL", self.keys["meta"], "max", "duration"))

    remove_global_rate_limit, aremove_global_rate_limit = twin(_remove_global_rate_limit)

    def _rate_limit(self, ms: int) -> Op[None]:
        """Stop every rate-limited worker of the queue from starting jobs for ``ms``."""
        _count("rate limit ms", ms)
        yield Call(("SET", self.keys["limiter"], MAX_SAFE_INTEGER, "PX", ms))

    rate_limit, arate_limit = twin(_rate_limit)

    def _get_rate_limit_ttl(self, max_jobs: int | None = None) -> Op[int]:
        """Ms until the limiter resets, when ``max_jobs`` (else the global max)
        starts are used up; 0 when not limited. Without either max: the key's
        plain PTTL (-2 no key, -1 no expiry), as BullMQ returns it."""
        if max_jobs is not None:
            _count("max_jobs", max_jobs)
        return int((yield scripts.get_rate_limit_ttl(self.keys, max_jobs or 0)))

    get_rate_limit_ttl, aget_rate_limit_ttl = twin(_get_rate_limit_ttl)

    def _remove_rate_limit_key(self) -> Op[int]:
        """Delete the limiter key (ends a window or a manual limit now); 1 if it existed."""
        return int((yield Call(("DEL", self.keys["limiter"]))))

    remove_rate_limit_key, aremove_rate_limit_key = twin(_remove_rate_limit_key)
