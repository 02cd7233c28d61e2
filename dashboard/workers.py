"""The workers page's rows: every live worker connection of the visible
queues, read with their summaries from one CLIENT LIST by
``Overview.summaries_and_workers`` (Node BullMQ, Python bullmq and queuecore
name their worker connections so that they can be told apart), with times for
display."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from queuecore import QueueSummary, WorkerInfo

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


def summaries_and_workers(conf: DashboardSettings, names: list[str]
                          ) -> tuple[list[QueueSummary], dict[str, list[WorkerRow]] | None]:
    """Each queue's summary and its workers, from one CLIENT LIST; the workers
    are None when the server refuses CLIENT LIST."""
    summaries, found = overview(conf).summaries_and_workers(names)
    if found is None:
        return summaries, None
    return summaries, {name: [WorkerRow(info) for info in rows] for name, rows in found.items()}
