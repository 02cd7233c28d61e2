"""Settings of ``manage.py demo``: the project's, plus the demo queues'
processors, so the demo's workers run through ``manage.py runworker``."""

from config.settings import *  # noqa: F403
from config.settings import QUEUECORE
from dashboard.demo_jobs import QUEUES as DEMO_QUEUES

QUEUECORE = {
    **QUEUECORE,
    "QUEUES": {name: {"processor": path, **options}
               for name, (path, options) in DEMO_QUEUES.items()},
}
