"""The README's demo command: Daphne serves the dashboard while workers and a
traffic generator run (on the test server)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from queuecore.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_demo_serves_the_dashboard_and_runs_workers(redis_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, QUEUECORE_REDIS_URL=redis_url, QUEUECORE_VAR_DIR=str(tmp_path),
               QUEUECORE_PREFIX="demo-test", DJANGO_DEBUG="0")
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--duration", "6", "--rate", "20",
         "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        status = None
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/",
                                            timeout=1) as response:
                    status = response.status
            except OSError:
                time.sleep(0.2)
        out, err = demo.communicate(timeout=60)
    finally:
        demo.kill()
    assert demo.returncode == 0, err
    assert status == 200
    assert f"Dashboard: http://127.0.0.1:{port}/admin/queues/" in out
    assert "login demo / demo-pass" in out
    # the workers run as `manage.py runworker`, logging each job
    assert "done emails #" in err and "start flaky-api #" in err
    # order flows: children in three queues, then the parent
    assert "done payments #" in err and "done orders #" in err
    assert "done partner-api #" in err
    # job schedulers: the every-minute heartbeat fires at once, the 15 s one soon
    assert "done maintenance #repeat:heartbeat:" in err
    assert "gave" not in err  # every active job finished within the grace
