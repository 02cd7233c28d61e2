"""Cron patterns of job schedulers, read as Node BullMQ's cron-parser reads them.

croniter does the parsing and the arithmetic. Two choices make it agree with
cron-parser: six-field patterns put the seconds FIRST (``second_at_beginning``),
and time zones are pytz zones, with which croniter handles daylight-saving
changes as cron-parser does (with ``zoneinfo`` zones croniter 2.0 gets the
days around a change wrong). Without a time zone patterns are evaluated in
UTC (Node evaluates them in the process's local zone).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import lru_cache

import pytz
from croniter import CroniterBadDateError, croniter

from .errors import InvalidOptionError

# cron-parser's named patterns, as six-field patterns (croniter lacks some).
PREDEFINED = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
    "@minutely": "0 * * * * *",
    "@secondly": "* * * * * *",
    "@weekdays": "0 0 0 * * 1-5",
    "@weekends": "0 0 0 * * 0,6",
}


@lru_cache(maxsize=256)
def zone(name: str | None) -> tzinfo:
    """The time zone named ``name`` (an IANA name such as "America/New_York"); UTC for None."""
    if name is None:
        return UTC
    if not isinstance(name, str) or not name:
        raise InvalidOptionError(f"tz must be an IANA time zone name, not {name!r}")
    try:
        return pytz.timezone(name)
    except pytz.UnknownTimeZoneError:
        raise InvalidOptionError(
            f"unknown time zone {name!r}; use an IANA name such as 'Europe/Paris'") from None


def _expression(pattern: str) -> str:
    if not isinstance(pattern, str) or not pattern.strip():
        raise InvalidOptionError(f"pattern must be a cron expression, not {pattern!r}")
    expression = PREDEFINED.get(pattern.strip().lower(), pattern.strip())
    fields = len(expression.split())
    if not expression.startswith("@") and fields not in (5, 6):
        raise InvalidOptionError(
            f"invalid cron pattern {pattern!r}: it has {fields} fields; use 5 (minute hour "
            "day month weekday) or 6 (second first)")
    return expression


def check_pattern(pattern: str) -> None:
    """Raise InvalidOptionError unless croniter can read ``pattern`` (as cron-parser would)."""
    expression = _expression(pattern)
    try:
        croniter(expression, datetime.now(UTC), second_at_beginning=True)
    except (ValueError, TypeError, KeyError) as exc:  # croniter's errors are ValueErrors
        raise InvalidOptionError(f"invalid cron pattern {pattern!r}: {exc}") from None


def _step(pattern: str, tz: str | None, from_ms: int, forward: bool) -> int | None:
    expression = _expression(pattern)
    start = datetime.fromtimestamp(from_ms / 1000, zone(tz))
    try:
        it = croniter(expression, start, second_at_beginning=True)
        found = it.get_next(datetime) if forward else it.get_prev(datetime)
    except CroniterBadDateError:
        return None
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidOptionError(f"invalid cron pattern {pattern!r}: {exc}") from None
    return round(found.timestamp() * 1000)


def next_run(pattern: str, tz: str | None, after_ms: int) -> int | None:
    """The first time (epoch ms) strictly after ``after_ms`` that ``pattern``
    matches in ``tz``; None if it never matches again (``0 0 30 2 *``)."""
    return _step(pattern, tz, after_ms, forward=True)


def previous_run(pattern: str, tz: str | None, before_ms: int) -> int | None:
    """The last time (epoch ms) strictly before ``before_ms`` that ``pattern``
    matches in ``tz`` (the dashboard's "last run"); None if there is none."""
    return _step(pattern, tz, before_ms, forward=False)
