"""Settings of ``manage.py demo``: the project's, plus the demo queues'
processors, so the demo's workers run through ``manage.py runworker``."""

from config.settings import *  # noqa: F403
from config.settings import QUEUECORE
from dashboard.demo_jobs import QUEUES as DEMO_QUEUES

QUEUECORE = {
    **QUEUECORE,
    # every demo worker records BullMQ's per-minute metrics (a day of them)
    "QUEUES": {name: {"processor": path, "metrics": {"max_data_points": 1440}, **options}
               for name, (path, options) in DEMO_QUEUES.items()},
}
