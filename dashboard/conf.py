"""The dashboard's settings (``QUEUECORE_DASHBOARD``) and its Redis connection.
The Redis URL and the prefix are queuecore's (``QUEUECORE`` and the
``QUEUECORE_REDIS_URL`` / ``QUEUECORE_PREFIX`` environment variables), read
by ``queuecore.conf`` alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from queuecore import conf as core_conf
from queuecore.conf import connection as connection

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
    core = core_conf.load()
    formatter = raw["FORMATTER"]
    return DashboardSettings(
        queues=tuple(raw["QUEUES"]) if raw["QUEUES"] is not None else None,
        page_size=int(raw["PAGE_SIZE"]),
        read_only=bool(raw["READ_ONLY"]),
        formatter=import_string(formatter) if isinstance(formatter, str) else formatter,
        prefix=core.prefix,
        redis_url=core.redis_url,
    )
