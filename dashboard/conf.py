"""The dashboard's settings (``QUEUECORE_DASHBOARD``) and its Redis connection."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from queuecore import Connection

DEFAULTS: dict[str, Any] = {"QUEUES": None, "PAGE_SIZE": 25, "READ_ONLY": False,
                            "FORMATTER": None}


@dataclass(frozen=True)
class DashboardSettings:
    queues: tuple[str, ...] | None
    page_size: int
    read_only: bool
    formatter: Any
    prefix: str
    redis_url: str | None


def dashboard_settings() -> DashboardSettings:
    raw = {**DEFAULTS, **getattr(settings, "QUEUECORE_DASHBOARD", {})}
    core = getattr(settings, "QUEUECORE", {})
    formatter = raw["FORMATTER"]
    return DashboardSettings(
        queues=tuple(raw["QUEUES"]) if raw["QUEUES"] is not None else None,
        page_size=int(raw["PAGE_SIZE"]),
        read_only=bool(raw["READ_ONLY"]),
        formatter=import_string(formatter) if isinstance(formatter, str) else formatter,
        prefix=core.get("PREFIX") or "bull",
        redis_url=os.environ.get("QUEUECORE_REDIS_URL") or core.get("REDIS_URL"),
    )


@cache
def connection(url: str | None) -> Connection:
    """One connection (and so one client pool) per server for the whole process."""
    return Connection(url)
