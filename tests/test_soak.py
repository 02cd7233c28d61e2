"""bench/soak.py at a small size, so the chaos soak keeps working: workers
killed, connections cut and Redis restarted (by SIGTERM and SIGKILL) while
jobs are added and run; nothing acknowledged may go missing or get stuck."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_small_soak_loses_nothing(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "bench/soak.py", "--jobs", "300", "--workers", "2", "--concurrency",
         "5", "--add-rate", "60", "--kill-every", "1.5", "--client-kill-every", "1",
         "--restart-every", "2", "--down", "0.5", "--seconds", "60", "--keep", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=110)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    figures = dict(re.findall(r"^  (acknowledged|completed|failed|missing|stuck|unasked deaths)"
                              r"\s+(\d+)", out, re.MULTILINE))
    assert figures == {"acknowledged": "300", "completed": "285", "failed": "15",
                       "missing": "0", "stuck": "0", "unasked deaths": "0"}, out
    assert "restarts by SIGTERM" in out and "restarts by SIGKILL" in out, out
    assert (tmp_path / "acked.log").read_text().split() == [f"s{i}" for i in range(300)]
