"""The README's demo command: Daphne serves the dashboard while workers and a
traffic generator run (on the test server), with settings and a database of
the demo's own."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from queuecore import Queue
from queuecore.embedded import free_port
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parent.parent
DEMO = [sys.executable, "manage.py", "demo", "--settings=config.demo_settings"]


def demo_env(redis_url: str, var_dir: Path, **more: str) -> dict[str, str]:
    # a production-like shell: the demo runs in development mode all the same
    return dict(os.environ, QUEUECORE_REDIS_URL=redis_url, QUEUECORE_VAR_DIR=str(var_dir),
                QUEUECORE_PREFIX="demo-test", DJANGO_DEBUG="0") | more


def users_in(db: Path) -> list[str]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return [name for (name,) in conn.execute("SELECT username FROM auth_user")]
        except sqlite3.OperationalError:  # no such table: never migrated
            return []


def run_demo(env: dict[str, str], *args: str) -> tuple[int, str, str, int | None]:
    """Run the demo for a few seconds; (exit code, stdout, stderr, login page status)."""
    port = free_port()
    demo = subprocess.Popen([*DEMO, "--port", str(port), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        status = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and status is None and demo.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/",
                                            timeout=1) as response:
                    status = response.status
            except OSError:
                time.sleep(0.2)
        out, err = demo.communicate(timeout=90)
    finally:
        demo.kill()
    assert f"Dashboard: http://127.0.0.1:{port}/admin/queues/" in out
    return demo.returncode, out, err, status


def test_demo_serves_the_dashboard_and_runs_workers(redis_url: str, tmp_path: Path) -> None:
    real_db = tmp_path / "real.sqlite3"
    env = demo_env(redis_url, tmp_path, DATABASE_URL=f"sqlite:///{real_db}")
    code, out, err, status = run_demo(env, "--duration", "6", "--rate", "20", "--verbose")
    assert code == 0, err
    assert status == 200
    assert "login demo / demo-pass" in out
    # the workers run as `manage.py runworker`, logging each job with --verbose
    assert "done emails #" in err and "start flaky-api #" in err
    # order flows: children in three queues, then the parent
    assert "done payments #" in err and "done orders #" in err
    assert "done partner-api #" in err
    # job schedulers: the every-minute heartbeat fires at once, the 15 s one soon
    assert "done maintenance #repeat:heartbeat:" in err
    assert "gave" not in err  # every active job finished within the grace
    # the login lives in the demo's database only, never in the configured one
    assert users_in(tmp_path / "demo" / "db.sqlite3") == ["demo"]
    assert users_in(real_db) == [] and users_in(tmp_path / "db.sqlite3") == []
    # the line a second terminal needs works as printed
    line = re.search(r"^Second terminal: (.+)$", out, re.M)
    assert line is not None, out
    words = shlex.split(line[1])
    assert words[:3] == [f"QUEUECORE_REDIS_URL={redis_url}", "QUEUECORE_PREFIX=demo-test",
                         "DJANGO_SETTINGS_MODULE=config.demo_settings"]
    second = subprocess.run(
        words[3:], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith(("QUEUECORE", "DJANGO"))}
        | dict(w.split("=", 1) for w in words[:3]) | {"QUEUECORE_VAR_DIR": str(tmp_path)})
    assert second.returncode == 0, second.stderr
    assert "emails" in second.stdout and "partner-api" in second.stdout


def test_demo_logs_a_summary_and_keeps_the_url_in_sight(redis_url: str,
                                                        tmp_path: Path) -> None:
    code, out, err, _ = run_demo(demo_env(redis_url, tmp_path), "--duration", "8",
                                 "--rate", "20")
    assert code == 0, err
    summaries = re.findall(r"processed (\d+) \(\d+ failed\) in \d+ s: .*emails \d+", err)
    assert summaries and sum(map(int, summaries)) > 20
    assert "done emails #" not in err and "start flaky-api #" not in err
    assert len(err.splitlines()) < 30
    # printed again once the workers' and Daphne's start-up lines are out
    assert out.count("Dashboard: http://127.0.0.1:") == 2
    assert out.count("Second terminal: QUEUECORE_REDIS_URL=") == 2


def test_busy_port_fails_at_once(redis_url: str, tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run([*DEMO, "--port", str(port), "--duration", "30"], cwd=ROOT,
                              env=demo_env(redis_url, tmp_path), capture_output=True,
                              text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert time.monotonic() - started < 15
    assert re.search(rf"port {port} is in use; run `make demo PORT=\d+`", done.stderr)
    assert "Dashboard:" not in done.stdout and "Workers and traffic" not in done.stdout
    assert users_in(tmp_path / "demo" / "db.sqlite3") == []  # nothing was started


def test_make_demo_passes_the_port_and_the_demo_settings() -> None:
    done = subprocess.run(["make", "-n", "demo", "PORT=8123", "VERBOSE=1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    commands = [shlex.split(line) for line in done.stdout.splitlines() if "manage.py" in line]
    assert [c[2] for c in commands] == ["migrate", "demo"]  # the demo's database, migrated
    assert all("--settings=config.demo_settings" in c for c in commands)
    assert commands[1][3:5] == ["--port", "8123"] and "--verbose" in commands[1]


def test_bad_port_is_refused(redis_url: str, tmp_path: Path) -> None:
    done = subprocess.run([*DEMO, "--port", "70000"], cwd=ROOT, env=demo_env(redis_url, tmp_path),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "--port takes a port number from 1 to 65535, not 70000" in done.stderr


def test_demo_refuses_the_project_settings(redis_url: str, tmp_path: Path) -> None:
    env = demo_env(redis_url, tmp_path, DJANGO_SETTINGS_MODULE="config.settings",
                   DJANGO_SECRET_KEY="x" * 60)
    done = subprocess.run([sys.executable, "manage.py", "demo", "--duration", "1"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "--settings=config.demo_settings" in done.stderr and "make demo" in done.stderr
    assert users_in(tmp_path / "db.sqlite3") == []


def test_demo_starts_again_after_its_daily_report_was_promoted_and_ran(
        redis_url: str, tmp_path: Path) -> None:
    """The issue's steps: "Promote all delayed" on reports, the iteration runs, restart."""
    env = demo_env(redis_url, tmp_path, QUEUECORE_PREFIX=f"demo-{free_port()}")
    reports = Queue("reports", connection=redis_url, prefix=env["QUEUECORE_PREFIX"])
    demo = subprocess.Popen([*DEMO, "--no-server", "--duration", "60", "--rate", "1"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        first = wait_for(lambda: reports.get_job_scheduler("daily-sales-report"), 30,
                         what="the demo's schedulers")
        assert reports.promote_jobs() >= 1
        iteration = f"repeat:daily-sales-report:{first.next}"
        wait_for(lambda: reports.get_job(iteration).get_state() == "completed",  # type: ignore[union-attr]
                 30, what="the promoted daily report to run")
    finally:
        demo.send_signal(signal.SIGINT)
        _, err = demo.communicate(timeout=60)
    assert demo.returncode == 0, err
    again = subprocess.run([*DEMO, "--no-server", "--duration", "1"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=90, check=False)
    assert again.returncode == 0, again.stderr
    scheduler = reports.get_job_scheduler("daily-sales-report")
    assert scheduler is not None and scheduler.next is not None and scheduler.next > first.next
    reports.obliterate(force=True)
    reports.close()
