"""Job options: validation of the Python names, and conversion to and from
the ``opts`` JSON that BullMQ stores in the job hash (under its own names)."""

from __future__ import annotations

import difflib
import json
import re
import reprlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from . import backoff as backoff_strategies
from .errors import InvalidOptionError, SerializationError
from .keys import reserved_job_id
from .text import lone_surrogate

PRIORITY_LIMIT = 2_097_151  # 2^21 - 1: priority * 2^32 must stay an exact double
# Lua numbers are doubles: a larger integer would be stored rounded.
MAX_SAFE_INTEGER = 2**53 - 1
_CANONICAL_INTEGER = re.compile(r"0|-?[1-9][0-9]{0,24}")

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 3, 80, 80, 40


def shown(value: Any) -> str:
    """A value as error messages show it: bounded in depth and length, so that
    data nested thousands deep or megabytes long cannot fail the message."""
    try:
        return _REPR.repr(value)
    except Exception:  # a repr that raises, an int past Python's digit limit...
        return f"<{type(value).__name__}>"


def check_text(value: str, what: str) -> str:
    """Refuse a string that cannot be UTF-8 (a lone surrogate, such as text read
    back from bytes that were not UTF-8): Redis would get other bytes or none."""
    at = lone_surrogate(value)
    if at is not None:
        raise InvalidOptionError(
            f"{what} is not valid Unicode: lone surrogate {value[at]!r} at character {at} "
            "(text decoded from bytes that are not UTF-8?)")
    return value

# Python name -> the name BullMQ stores in opts.
OPTION_NAMES = {
    "job_id": "jobId",
    "delay": "delay",
    "priority": "priority",
    "lifo": "lifo",
    "attempts": "attempts",
    "backoff": "backoff",
    "remove_on_complete": "removeOnComplete",
    "remove_on_fail": "removeOnFail",
    "keep_logs": "kl",
    "timestamp": "timestamp",
    "stack_trace_limit": "stackTraceLimit",
    "parent": "parent",
    "fail_parent_on_failure": "fpof",
    "continue_parent_on_failure": "cpof",
    "ignore_dependency_on_failure": "idof",
    "remove_dependency_on_failure": "rdof",
    "deduplication": "de",
}
# A child's failure policies: at most one may be set (as in BullMQ).
PARENT_FLAGS = ("fpof", "cpof", "idof", "rdof")
_FLAG_NAMES = {v: k for k, v in OPTION_NAMES.items() if v in PARENT_FLAGS}
PYTHON_NAMES = {v: k for k, v in OPTION_NAMES.items()}
# Names BullMQ's public API uses for options stored under short names.
PYTHON_NAMES.update({
    "keepLogs": "keep_logs", "failParentOnFailure": "fail_parent_on_failure",
    "continueParentOnFailure": "continue_parent_on_failure",
    "ignoreDependencyOnFailure": "ignore_dependency_on_failure",
    "removeDependencyOnFailure": "remove_dependency_on_failure"})


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def duration_ms(name: str, value: Any, *, minimum: int = 0,
                maximum: int = MAX_SAFE_INTEGER) -> int:
    """A duration in ms from an int, an integral float or a timedelta."""
    if isinstance(value, timedelta):
        value = value.total_seconds() * 1000
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidOptionError(
            f"{name} must be a number of milliseconds or a timedelta, not {shown(value)}")
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidOptionError(
            f"{name} must be a finite number of milliseconds, not {shown(value)}")
    ms = round(value)
    if ms < minimum:
        raise InvalidOptionError(f"{name} must be at least {minimum} ms, not {shown(value)}")
    if ms > maximum:
        raise InvalidOptionError(f"{name} must be at most {maximum:,} ms, not {shown(value)}")
    return ms


def check_int(name: str, value: Any, low: int, high: int = MAX_SAFE_INTEGER) -> int:
    """An integer in [low, high]; the default bound is what Lua holds exactly."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionError(f"{name} must be an integer, not {shown(value)}")
    if low <= value <= high:
        return value
    if high != MAX_SAFE_INTEGER:
        bounds = f"between {low:,} and {high:,}"
    else:
        bounds = f"at least {low:,}" if value < low else f"at most {high:,}"
    raise InvalidOptionError(f"{name} must be {bounds}, not {shown(value)}")


def _keep_jobs(name: str, value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return check_int(name, value, 0)
    if isinstance(value, dict):
        unknown = set(value) - {"age", "count", "limit"}
        if unknown:
            raise InvalidOptionError(
                f"{name} accepts the keys age (seconds), count and limit, not {sorted(unknown)}")
        kept = {}
        for key in ("age", "count", "limit"):
            if key in value:
                v = value[key]
                if key == "age" and isinstance(v, timedelta):
                    v = int(v.total_seconds())
                kept[key] = check_int(f"{name}['{key}']", v, 0)
        return kept
    raise InvalidOptionError(
        f"{name} must be True, False, a count or {{'age': seconds, 'count': n}}, "
        f"not {shown(value)}")


def _backoff(value: Any) -> dict[str, Any]:
    if isinstance(value, int | float | timedelta) and not isinstance(value, bool):
        return {"type": "fixed", "delay": duration_ms("backoff", value)}
    if not isinstance(value, dict):
        raise InvalidOptionError(
            "backoff must be a delay in ms or {'type': 'fixed' | 'exponential', 'delay': ms}, "
            f"not {shown(value)}")
    unknown = set(value) - {"type", "delay", "jitter"}
    if unknown:
        raise InvalidOptionError(f"backoff accepts type, delay and jitter, not {sorted(unknown)}")
    kind = value.get("type")
    if not isinstance(kind, str) or not backoff_strategies.is_known(kind):
        known = ", ".join(backoff_strategies.known_names())
        raise InvalidOptionError(f"unknown backoff type {shown(kind)}; known types: {known}")
    result: dict[str, Any] = {"type": kind}
    if "delay" in value:
        result["delay"] = duration_ms("backoff['delay']", value["delay"])
    if "jitter" in value:
        jitter = value["jitter"]
        if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter <= 1:
            raise InvalidOptionError(
                f"backoff['jitter'] must be between 0 and 1, not {shown(jitter)}")
        result["jitter"] = jitter
    return result


def integer_like(job_id: str) -> bool:
    """BullMQ's test for ids it refuses, ``String(parseInt(id)) === id``: the
    id reads back the same through a JavaScript number (so not "007", "+5",
    "-0", or digits past a double's precision that print otherwise)."""
    if not _CANONICAL_INTEGER.fullmatch(job_id):
        return False
    number = float(int(job_id))
    if abs(number) >= 1e21:  # JavaScript prints these with an exponent
        return False
    return str(int(Decimal(repr(number)))) == job_id  # the shortest digits, as JS prints


def _job_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidOptionError(f"job_id must be a non-empty string, not {shown(value)}")
    check_text(value, "job_id")
    if value == "0" or value.startswith("0:"):
        raise InvalidOptionError("job_id may not be '0' or start with '0:'")
    if integer_like(value):  # BullMQ refuses these too
        raise InvalidOptionError(
            f"job_id {shown(value)} looks like an integer, which clashes with automatic ids")
    if ":" in value and len(value.split(":")) != 3:
        raise InvalidOptionError(f"job_id {shown(value)} may not contain ':'")
    if reserved_job_id(value):
        raise InvalidOptionError(
            f"job_id {shown(value)} is the name of one of the queue's own keys; "
            "its job hash would overwrite that key")
    return value


def _parent(value: Any) -> dict[str, str]:
    if (not isinstance(value, dict) or set(value) != {"id", "queue"}
            or not all(isinstance(v, str) and v for v in value.values())):
        raise InvalidOptionError(
            "parent must be {'id': job id, 'queue': qualified queue name such as 'bull:orders'}, "
            f"not {shown(value)}")
    job_id, queue = check_text(value["id"], "parent['id']"), check_text(value["queue"],
                                                                        "parent['queue']")
    prefix, _, name = queue.rpartition(":")
    if not prefix or not name:
        raise InvalidOptionError(
            "parent['queue'] must be the qualified name '<prefix>:<queue>', "
            f"not {shown(queue)}")
    if reserved_job_id(job_id) or (":" in job_id and len(job_id.split(":")) != 3):
        raise InvalidOptionError(
            f"parent['id'] {shown(job_id)} cannot be a job id: it names a queue key or has ':'")
    return {"id": job_id, "queue": queue}


def validate(options: dict[str, Any]) -> dict[str, Any]:
    """Check Python-named job options; returns them in BullMQ's names (for opts)."""
    opts: dict[str, Any] = {}
    for name, value in options.items():
        if not isinstance(name, str):
            raise InvalidOptionError(f"job option names are strings, not {shown(name)}")
        if name not in OPTION_NAMES:
            hint = ""
            if name in PYTHON_NAMES:
                hint = f"; queuecore spells BullMQ's {shown(name)} as {shown(PYTHON_NAMES[name])}"
            elif _camel_to_snake(name) in OPTION_NAMES:
                hint = f"; did you mean {shown(_camel_to_snake(name))}?"
            elif close := difflib.get_close_matches(name, OPTION_NAMES, 1):
                hint = f"; did you mean {shown(close[0])}?"
            raise InvalidOptionError(f"unknown job option {shown(name)}{hint}")
        if value is None:
            continue
        if name == "job_id":
            value = _job_id(value)
        elif name == "delay":
            value = duration_ms("delay", value)
        elif name == "priority":
            value = check_int("priority", value, 0, PRIORITY_LIMIT)
        elif name == "lifo":
            if not isinstance(value, bool):
                raise InvalidOptionError(f"lifo must be True or False, not {shown(value)}")
        elif name == "attempts":
            value = check_int("attempts", value, 1)
        elif name == "backoff":
            value = _backoff(value)
        elif name in ("remove_on_complete", "remove_on_fail"):
            value = _keep_jobs(name, value)
        elif name == "keep_logs":
            value = check_int("keep_logs", value, 1)
        elif name == "stack_trace_limit":
            value = check_int("stack_trace_limit", value, 0)
        elif name == "parent":
            value = _parent(value)
        elif name == "deduplication":
            value = deduplication(value)
        elif OPTION_NAMES[name] in PARENT_FLAGS:
            if not isinstance(value, bool):
                raise InvalidOptionError(f"{name} must be True or False, not {shown(value)}")
            if not value:
                continue
        elif name == "timestamp":
            if isinstance(value, datetime):
                value = int(value.timestamp() * 1000)
            value = check_int("timestamp", value, 0)
        opts[OPTION_NAMES[name]] = value
    flags = [f for f in PARENT_FLAGS if opts.get(f)]
    if len(flags) > 1:
        names = " and ".join(_FLAG_NAMES[f] for f in flags)
        raise InvalidOptionError(f"{names} exclude each other: choose one")
    if "de" in opts and "parent" in opts:
        # as BullMQ's Job.validateOptions: a child's dedup key would outlive its flow
        raise InvalidOptionError("deduplication and parent cannot be used together")
    return opts


def merge_defaults(defaults: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Queue default options under the job's own (both Python-named)."""
    return {**defaults, **options} if defaults else options


def to_python(opts: dict[str, Any]) -> dict[str, Any]:
    """Stored BullMQ opts -> Python names (names queuecore does not know stay as they are)."""
    python = {PYTHON_NAMES.get(k, k): v for k, v in opts.items()}
    if isinstance(python.get("deduplication"), dict):
        python["deduplication"] = {DEDUP_PYTHON_NAMES.get(k, k): v
                                   for k, v in python["deduplication"].items()}
    return python


# json.dumps with options builds an encoder per call: one, made once
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_json(value: Any, what: str, foreign_bytes: bool = False) -> str:
    """Compact JSON, refusing anything JSON cannot hold (NaN, sets, objects...).
    ``foreign_bytes`` lets lone surrogates through: text that was read from
    Redis (a stored trace) and goes back as the bytes it came as."""
    try:
        text = _ENCODER.encode(value)
    except RecursionError:  # deeper than Python's recursion limit (about 1,000 levels)
        raise SerializationError(f"{what} is nested too deeply to be encoded as JSON") from None
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"{what} is not JSON-serialisable: {exc}") from exc
    at = None if foreign_bytes else lone_surrogate(text)
    if at is not None:
        raise SerializationError(
            f"{what} is not valid Unicode: lone surrogate {text[at]!r} at character {at} of "
            "its JSON (text decoded from bytes that are not UTF-8?)")
    return text


def keep_jobs(value: Any) -> tuple[int, int | None]:
    """removeOnComplete / removeOnFail -> (count, age in seconds) for the Lua side.
    count -1 keeps all, 0 keeps none."""
    if value is None or value is False:
        return -1, None
    if value is True:
        return 0, None
    if isinstance(value, int):
        return value, None
    if isinstance(value, dict):
        count = value.get("count")
        return (count if isinstance(count, int) else -1), value.get("age")
    return -1, None


# deduplication={...}: Python name -> the name BullMQ stores inside opts.de
DEDUP_NAMES = {"id": "id", "ttl": "ttl", "extend": "extend", "replace": "replace",
               "keep_last_if_active": "keepLastIfActive", "reschedule": "reschedule"}
DEDUP_PYTHON_NAMES = {v: k for k, v in DEDUP_NAMES.items()}


def deduplication(value: Any) -> dict[str, Any]:
    """deduplication={"id": ..., "ttl": ms, "extend", "replace", "keep_last_if_active",
    "reschedule"} -> BullMQ's stored ``de`` object (false flags left out)."""
    if not isinstance(value, dict):
        raise InvalidOptionError(
            f"deduplication must be a dict such as {{'id': 'key', 'ttl': ms}}, not {shown(value)}")
    unknown = set(value) - set(DEDUP_NAMES)
    if unknown:
        hints = [f"{shown(k)} is spelled {shown(DEDUP_PYTHON_NAMES[k])}" for k in sorted(unknown)
                 if k in DEDUP_PYTHON_NAMES]
        raise InvalidOptionError(
            f"deduplication accepts {', '.join(DEDUP_NAMES)}, not {sorted(unknown)}"
            + (f" ({'; '.join(hints)})" if hints else ""))
    dedup_id = value.get("id")
    if not isinstance(dedup_id, str) or not dedup_id:
        raise InvalidOptionError(
            f"deduplication['id'] must be a non-empty string, not {shown(dedup_id)}")
    de: dict[str, Any] = {"id": dedup_id}
    if value.get("ttl") is not None:
        de["ttl"] = duration_ms("deduplication['ttl']", value["ttl"], minimum=1)
    for name in ("extend", "replace", "keep_last_if_active", "reschedule"):
        flag = value.get(name, False)
        if not isinstance(flag, bool):
            raise InvalidOptionError(
                f"deduplication['{name}'] must be True or False, not {shown(flag)}")
        if flag:
            de[DEDUP_NAMES[name]] = True
    if de.get("extend") and "ttl" not in de:
        raise InvalidOptionError("deduplication['extend'] needs a ttl to extend")
    return de
