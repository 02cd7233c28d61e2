"""The workers page's rows: every live worker connection of the visible
queues, as queuecore's ``Overview.workers`` reads them from one CLIENT LIST
(Node BullMQ, Python bullmq and queuecore name their worker connections so
that they can be told apart), with times for display."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from queuecore import WorkerInfo

from .conf import DashboardSettings
from .presenters import when
from .queues import overview


@dataclass
class WorkerRow:
    info: WorkerInfo

    def __getattr__(self, name: str) -> Any:  # queue, name, library, addr, host, pid, ...
        if name.startswith("_") or name == "info":
            raise AttributeError(name)
        return getattr(self.info, name)

    @property
    def started(self) -> datetime | None:
        return when(self.info.started_at)

    @property
    def seen_ago_s(self) -> int | None:
        seen = self.info.last_seen
        return None if seen is None else max(0, (int(time.time() * 1000) - seen) // 1000)


def live_workers(conf: DashboardSettings, names: list[str]) -> dict[str, list[WorkerRow]] | None:
    """Workers per queue; None when the server refuses CLIENT LIST."""
    found = overview(conf).workers(names)
    if found is None:
        return None
    return {name: [WorkerRow(info) for info in rows] for name, rows in found.items()}
