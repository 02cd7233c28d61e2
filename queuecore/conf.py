"""queuecore's Django settings: ``QUEUECORE = {...}``, with environment
variables on top, checked at start-up (``manage.py check`` and every
command) so a typo is an error naming the key."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from .connection import Connection
from .errors import InvalidOptionError
from .options import validate
from .queue import Queue
from .registry import Processor, dispatcher, processors_for, registered_queues

TOP_KEYS = {"REDIS_URL", "PREFIX", "DEFAULT_JOB_OPTIONS", "QUEUES"}
# per queue: Worker options, plus the processor by dotted path
QUEUE_KEYS = {"concurrency", "limiter", "lock_duration", "stalled_interval",
              "max_stalled_count", "drain_delay", "remove_on_complete", "remove_on_fail",
              "processor", "default_job_options", "metrics",
              "maximum_rate_limit_delay"}


@dataclass(frozen=True)
class QueueCoreSettings:
    redis_url: str | None
    prefix: str
    default_job_options: dict[str, Any]
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)


def _hint(key: str, known: set[str]) -> str:
    close = difflib.get_close_matches(key, known, 1)
    return f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(sorted(known))}"


def load() -> QueueCoreSettings:
    raw = dict(getattr(settings, "QUEUECORE", {}) or {})
    return QueueCoreSettings(
        redis_url=os.environ.get("QUEUECORE_REDIS_URL") or raw.get("REDIS_URL"),
        prefix=os.environ.get("QUEUECORE_PREFIX") or raw.get("PREFIX") or "bull",
        default_job_options=dict(raw.get("DEFAULT_JOB_OPTIONS") or {}),
        queues={name: dict(opts or {}) for name, opts in (raw.get("QUEUES") or {}).items()},
    )


def problems() -> list[str]:
    """What is wrong with the settings, each naming the key."""
    raw = getattr(settings, "QUEUECORE", {}) or {}
    found = []
    if not isinstance(raw, dict):
        return ["QUEUECORE must be a dict"]
    for key in raw:
        if key not in TOP_KEYS:
            found.append(f"QUEUECORE has an unknown key {key!r}{_hint(key, TOP_KEYS)}")
    try:
        validate(dict(raw.get("DEFAULT_JOB_OPTIONS") or {}))
    except InvalidOptionError as exc:
        found.append(f"QUEUECORE['DEFAULT_JOB_OPTIONS']: {exc}")
    queues = raw.get("QUEUES") or {}
    if not isinstance(queues, dict):
        return [*found, "QUEUECORE['QUEUES'] must be a dict of queue name -> options"]
    for name, opts in queues.items():
        where = f"QUEUECORE['QUEUES'][{name!r}]"
        if ":" in str(name):
            found.append(f"{where}: a queue name may not contain ':'")
        for key in opts or {}:
            if key not in QUEUE_KEYS:
                found.append(f"{where} has an unknown key {key!r}{_hint(key, QUEUE_KEYS)}")
        path = (opts or {}).get("processor")
        if path:
            try:
                import_string(path)
            except ImportError as exc:
                found.append(f"{where}['processor']: cannot import {path!r}: {exc}")
    return found


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [checks.Error(message, id=f"queuecore.E{i:03d}",
                         hint="See docs/settings.md for every key.")
            for i, message in enumerate(problems(), start=1)]


@cache
def connection(url: str | None) -> Connection:
    return Connection(url)


def get_queue(name: str) -> Queue:
    """A ``Queue`` configured from settings (Redis URL, prefix, default job options)."""
    conf = load()
    defaults = {**conf.default_job_options,
                **conf.queues.get(name, {}).get("default_job_options", {})}
    return Queue(name, connection=connection(conf.redis_url), prefix=conf.prefix,
                 default_job_options=defaults)


def queue_processor(name: str) -> Processor | None:
    """The processor of a queue: by dotted path in settings, else registered ones."""
    path = load().queues.get(name, {}).get("processor")
    if path:
        return import_string(path)
    registered = processors_for(name)
    return dispatcher(name, registered) if registered else None


def configured_queues() -> list[str]:
    """Queues with a processor: from settings and from ``@processor``."""
    conf = load()
    named = [n for n, opts in conf.queues.items() if opts.get("processor")]
    return sorted({*named, *registered_queues()})


def sandbox_setup(spec: str) -> Processor | None:
    """The sandbox child hook (``sandbox.set_child_setup``, registered by
    ``QueuecoreConfig.ready()``): set Django up in the child (settings, every
    app's jobs.py) and resolve ``"queuecore:<queue>"`` to that queue's processor."""
    if os.environ.get("DJANGO_SETTINGS_MODULE"):  # settings.configure() does not reach a child
        import django

        django.setup()
    if not spec.startswith("queuecore:"):
        return None
    name = spec.split(":", 1)[1]
    found = queue_processor(name)
    if found is None:
        raise LookupError(f"no processor for queue {name!r}")
    return found
