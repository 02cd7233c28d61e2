"""The README's demo command runs and processes jobs (on the test server)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_command_runs_a_worker_and_a_producer(redis_url: str, tmp_path: Path) -> None:
    env = dict(os.environ, QUEUECORE_REDIS_URL=redis_url, QUEUECORE_VAR_DIR=str(tmp_path),
               QUEUECORE_PREFIX="demo-test")
    result = subprocess.run(
        [sys.executable, "manage.py", "demo", "--duration", "2", "--rate", "20"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "added      #1" in result.stdout
    assert "completed  #" in result.stdout
    assert "Job counts:" in result.stdout
