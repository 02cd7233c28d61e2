"""Which queues the dashboard shows and what it shows of them, all read
through queuecore's read side (``Overview`` for many queues and the server,
``Queue`` methods for one)."""

from __future__ import annotations

from queuecore import Overview, Queue, QueueSummary, ServerInfo
from queuecore.errors import QueueCoreError

from .conf import DashboardSettings, connection

STATES = ("latest", "active", "waiting", "waiting-children", "prioritized", "delayed",
          "completed", "failed", "paused")
# what the engine raises when a key another client wrote is of the wrong type
# (WrongTypeError) or Redis is gone: the driver maps every Redis error to these
REFUSED = QueueCoreError


def overview(conf: DashboardSettings) -> Overview:
    return Overview(connection(conf.redis_url), conf.prefix)


def visible_queues(conf: DashboardSettings) -> list[str]:
    """The allow-list when one is set, else every queue found under the prefix."""
    if conf.queues is not None:
        return list(conf.queues)
    return overview(conf).discover()


def remember_queue(conf: DashboardSettings, name: str) -> None:
    """A queue seen on its own page joins the overview without waiting for a SCAN."""
    overview(conf).remember(name)


def get_queue(conf: DashboardSettings, name: str) -> Queue:
    return Queue(name, connection=connection(conf.redis_url), prefix=conf.prefix)


def summarize(conf: DashboardSettings, names: list[str]) -> list[QueueSummary]:
    """Counts, pause state, live workers and recent throughput of every queue."""
    return overview(conf).summaries(names)


def server_info(conf: DashboardSettings) -> ServerInfo:
    return overview(conf).server_info()
