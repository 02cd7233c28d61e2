"""Child processes of the benchmarks: every one started is stopped, whatever happens."""

from __future__ import annotations

import contextlib
import signal
import subprocess

LIVE: set[subprocess.Popen[bytes]] = set()


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> int:
    """SIGTERM, then SIGKILL after ``grace`` s; returns the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    LIVE.discard(proc)
    return proc.returncode


def stop_all() -> None:
    for proc in list(LIVE):
        with contextlib.suppress(Exception):
            stop_process(proc, grace=3.0)


class Timeout(Exception):
    """The whole benchmark ran longer than --timeout."""


def bound(seconds: float) -> None:
    """Raise Timeout after ``seconds``; SIGTERM exits (so ``finally`` blocks clean up)."""

    def on_alarm(*_: object) -> None:
        raise Timeout(f"benchmark still running after {seconds:.0f} s")

    def on_term(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(int(seconds))
