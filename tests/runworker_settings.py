"""Settings for runworker subprocesses in tests: the project's, plus queues
whose names come from the environment (each test uses fresh ones)."""

import os

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS, QUEUECORE

INSTALLED_APPS = [*INSTALLED_APPS, "tests.jobs_app"]  # its jobs.py registers a processor

QUEUECORE = {
    **QUEUECORE,
    "QUEUES": {
        os.environ.get("RW_FAST", "rw-fast"): {"processor": "tests.runworker_jobs.echo",
                                               "concurrency": 2},
        os.environ.get("RW_SLOW", "rw-slow"): {"processor": "tests.runworker_jobs.slow"},
    },
}
