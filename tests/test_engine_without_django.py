"""The engine runs without Django: its core modules import none, and a
sandbox child sets Django up only when the Django side registered its hook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from queuecore import Queue, Worker, sandbox

ROOT = Path(__file__).resolve().parent.parent
CORE = ["queuecore", "queuecore.worker", "queuecore.sandbox", "queuecore.registry",
        "queuecore.queue", "queuecore.flow", "queuecore.events", "queuecore.schedulers",
        "queuecore.search", "queuecore.discovery", "queuecore.embedded",
        "queuecore.decisions", "queuecore.codes"]


def plain_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=60)


def test_core_modules_import_no_django() -> None:
    done = plain_python(
        f"import importlib, sys\nfor m in {CORE!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_plain_sandboxed_worker_child_imports_no_django(redis_url: str, queue_name: str) -> None:
    done = plain_python(f"""
from queuecore import Queue, Worker
queue = Queue({queue_name!r}, connection={redis_url!r})
job = queue.add("probe", {{}})
worker = Worker({queue_name!r}, "tests.sandbox_jobs.django_loaded", {redis_url!r},
                sandboxed=True, processes=1)
worker.on("completed", lambda job, result: worker.close())
worker.run()
print(queue.get_job(job.id).returnvalue)
""")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_the_django_side_registers_its_child_setup(queue: Queue, redis_url: str,
                                                    run_worker: Any) -> None:
    # pytest-django has set Django up here: ready() registered the hook
    assert sandbox.child_setup() == "queuecore.conf.sandbox_setup"
    job = queue.add("probe", {})
    run_worker(Worker(queue.name, "tests.sandbox_jobs.django_loaded", redis_url,
                      sandboxed=True, processes=1))
    assert job.wait_until_finished(timeout=30) is True
