"""``manage.py queues <subcommand>``: look at and administer the queues.

    list                      every queue under the prefix: counts, paused, workers
    show QUEUE                recent jobs of each state
    retry QUEUE               failed (or completed) jobs back to waiting
    clean QUEUE               remove old jobs of a state
    promote QUEUE             delayed jobs to waiting now
    pause QUEUE / resume QUEUE
    remove QUEUE JOB_ID
    health [QUEUE ...]        "ok", or exit 1 with the reason (for container probes)

The commands that change something ask for confirmation on a terminal and,
without one, refuse unless given ``--yes``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser

from queuecore.conf import configured_queues, load
from queuecore.connection import Connection
from queuecore.errors import ConnectionFailedError, QueueCoreError, RedisCommandError
from queuecore.job import Job
from queuecore.overview import Overview
from queuecore.queue import CLEANABLE, Queue

# the states of ``list`` and ``show``, in the order a job moves through them
STATES = ("waiting", "active", "prioritized", "delayed", "completed", "failed",
          "waiting-children")
CLEAN_STATES = tuple(s for s in CLEANABLE if s != "wait")
CONNECT_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 60.0


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def redacted(url: str | None) -> str:
    """The URL without its password, for messages."""
    if not url:
        return "the default Redis"
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def first_line(text: str | None) -> str:
    return text.strip().splitlines()[0] if text and text.strip() else ""


def when(ms: int | None) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Aligned columns: numbers to the right, text to the left."""
    cells = [[str(c) for c in row] for row in rows]
    numeric = [bool(rows) and all(isinstance(row[i], int) for row in rows)
               for i in range(len(headers))]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    return [line(headers), *(line(row) for row in cells)]


def job_summary(job: Job) -> dict[str, Any]:
    return {"id": job.id, "name": job.name, "timestamp": job.timestamp,
            "processed_on": job.processed_on, "finished_on": job.finished_on,
            "delay": job.delay, "priority": job.priority,
            "attempts_made": job.attempts_made, "attempts": job.attempts,
            "failed_reason": first_line(job.failed_reason) or None}


class Command(BaseCommand):
    help = "Look at and administer queuecore queues: list, show, retry, clean, promote, " \
           "pause, resume, remove, health."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

        p = sub.add_parser("list", help="every queue under the prefix, with its counts")
        p.add_argument("--json", action="store_true", dest="as_json",
                       help="machine-readable output")

        p = sub.add_parser("show", help="recent jobs of each state of a queue")
        p.add_argument("queue")
        p.add_argument("--limit", type=int, default=5, help="jobs per state (default 5)")
        p.add_argument("--state", action="append", choices=STATES,
                       help="only this state (repeatable)")
        p.add_argument("--json", action="store_true", dest="as_json",
                       help="machine-readable output")

        p = sub.add_parser("retry", help="move failed (or completed) jobs back to waiting")
        p.add_argument("queue")
        p.add_argument("--state", default="failed", choices=["failed", "completed"],
                       help="which jobs (default failed)")
        self.add_yes(p)

        p = sub.add_parser("clean", help="remove jobs of a state older than --grace")
        p.add_argument("queue")
        p.add_argument("--state", default="completed", choices=CLEAN_STATES,
                       help="which jobs (default completed)")
        p.add_argument("--grace", type=float, default=3600.0,
                       help="only jobs older than this many seconds (default 3600)")
        p.add_argument("--limit", type=int, default=1000,
                       help="at most this many jobs (default 1000; 0: no limit)")
        self.add_yes(p)

        p = sub.add_parser("promote", help="move every delayed job to waiting now")
        p.add_argument("queue")
        self.add_yes(p)

        p = sub.add_parser("pause", help="stop workers from taking the queue's jobs")
        p.add_argument("queue")
        self.add_yes(p)

        p = sub.add_parser("resume", help="let workers take the queue's jobs again")
        p.add_argument("queue")

        p = sub.add_parser("remove", help="remove one job")
        p.add_argument("queue")
        p.add_argument("job_id")
        self.add_yes(p)

        p = sub.add_parser("health", help='print "ok", or exit 1 with the reason')
        p.add_argument("queues", nargs="*", metavar="QUEUE",
                       help="queues --require-workers checks (default: every queue with a "
                            "processor)")
        p.add_argument("--require-workers", action="store_true",
                       help="fail when one of the queues has no live worker")
        p.add_argument("--timeout", type=float, default=2.0,
                       help="seconds to wait for Redis (default 2)")

    @staticmethod
    def add_yes(parser: CommandParser) -> None:
        parser.add_argument("--yes", "-y", action="store_true",
                            help="do it without asking (needed when stdin is not a terminal)")

    # -- plumbing ------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        conf = load()
        self.prefix = conf.prefix
        self.redis_url = conf.redis_url
        command = options["subcommand"]
        timeout = options.get("timeout") or COMMAND_TIMEOUT_S
        self.conn = Connection(conf.redis_url,
                               socket_connect_timeout=min(timeout, CONNECT_TIMEOUT_S),
                               socket_timeout=timeout)
        handler: Callable[..., None] = getattr(self, f"do_{command}")
        try:
            handler(**options)
        except ConnectionFailedError as exc:
            raise CommandError(f"Redis at {redacted(self.conn.url)} is unreachable: "
                               f"{one_line(exc.__cause__ or exc)}") from None
        except RedisCommandError as exc:  # and its kinds: WRONGTYPE, OOM, READONLY
            raise CommandError(f"Redis at {redacted(self.conn.url)} answered with an error: "
                               f"{one_line(exc.__cause__ or exc)}") from None
        except QueueCoreError as exc:
            raise CommandError(one_line(exc)) from None
        finally:
            self.conn.close()

    def out(self, text: str) -> None:
        self.stdout.write(text)

    def queue(self, name: str) -> Queue:
        """The named queue; an error naming it when there is no such queue."""
        try:
            queue = Queue(name, connection=self.conn, prefix=self.prefix)
        except QueueCoreError as exc:
            raise CommandError(one_line(exc)) from None
        if queue.exists():
            return queue
        known = Overview(self.conn, self.prefix).discover()
        if name in known:
            return queue
        hint = f"known: {', '.join(known)}" if known else "there are none"
        raise CommandError(f"unknown queue {name!r} under prefix {self.prefix!r} ({hint})")

    def confirm(self, question: str, yes: bool, action: str) -> None:
        """Ask on a terminal; without one, go on only with ``--yes``."""
        if yes:
            return
        stdin = sys.stdin
        if stdin is None or stdin.closed or not stdin.isatty():
            raise CommandError(f"refusing to {action} without confirmation: stdin is not a "
                               "terminal; pass --yes to do it anyway")
        self.stderr.write(f"{question} [y/N] ", style_func=str, ending="")
        self.stderr.flush()
        try:
            answer = input()
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            raise CommandError("aborted: nothing was changed")

    # -- reading -------------------------------------------------------------------

    def do_list(self, as_json: bool = False, **_: Any) -> None:
        overview = Overview(self.conn, self.prefix)
        names = overview.discover()
        queues = [Queue(name, connection=self.conn, prefix=self.prefix) for name in names]
        counts = [q.get_job_counts(*STATES) for q in queues]
        paused = [q.is_paused() for q in queues]
        found = overview.workers(names) if names else None  # None: CLIENT LIST refused
        workers = {name: len(rows) for name, rows in (found or {}).items()}
        if as_json:
            self.out(dumps([{"queue": name, "counts": c, "paused": p,
                             "workers": workers.get(name, 0)}
                            for name, c, p in zip(names, counts, paused, strict=True)]))
            return
        if not names:
            self.out(f"no queues under prefix {self.prefix!r}")
            return
        headers = ["QUEUE", *(s.upper() for s in STATES), "PAUSED", "WORKERS"]
        rows = [[name, *(c[s] for s in STATES), "yes" if p else "no", workers.get(name, 0)]
                for name, c, p in zip(names, counts, paused, strict=True)]
        for line in table(headers, rows):
            self.out(line)

    def do_show(self, queue: str, limit: int, state: list[str] | None,
                as_json: bool = False, **_: Any) -> None:
        if limit < 1:
            raise CommandError("--limit must be at least 1")
        q = self.queue(queue)
        states = [s for s in STATES if s in state] if state else list(STATES)
        counts = q.get_job_counts(*states)
        jobs = {s: q.get_jobs(s, 0, limit - 1, summary=True) if counts[s] else []
                for s in states}
        paused = q.is_paused()
        if as_json:
            self.out(dumps({"queue": q.name, "paused": paused, "counts": counts,
                            "jobs": {s: [job_summary(j) for j in found]
                                     for s, found in jobs.items()}}))
            return
        self.out(f"{q.name}{' (paused)' if paused else ''}")
        for s in states:
            shown = f", the newest {len(jobs[s])}" if len(jobs[s]) < counts[s] else ""
            self.out(f"\n{s}: {plural(counts[s], 'job')}{shown}")
            if not jobs[s]:
                continue
            rows = [[j.id, j.name, when(j.timestamp), when(j.processed_on),
                     when(j.finished_on), f"{j.attempts_made}/{j.attempts}",
                     first_line(j.failed_reason)[:120]] for j in jobs[s]]
            for line in table(["ID", "NAME", "CREATED", "PROCESSED", "FINISHED", "ATTEMPTS",
                               "REASON"], rows):
                self.out("  " + line)

    # -- changing ------------------------------------------------------------------

    def do_retry(self, queue: str, state: str, yes: bool, **_: Any) -> None:
        q = self.queue(queue)
        count = q.get_job_counts(state)[state]
        self.confirm(f"Move {plural(count, state + ' job')} of {q.name!r} back to waiting?",
                     yes, f"retry the {state} jobs of {q.name!r}")
        moved = q.retry_jobs(state)
        self.out(f"retried {plural(moved, state + ' job')} of {q.name!r}: back to waiting")

    def do_clean(self, queue: str, state: str, grace: float, limit: int, yes: bool,
                 **_: Any) -> None:
        if grace < 0 or limit < 0:
            raise CommandError("--grace and --limit must be at least 0")
        q = self.queue(queue)
        most = f"up to {limit}" if limit else "every one of the"
        self.confirm(f"Remove {most} {state} jobs of {q.name!r} older than {grace:g} s?",
                     yes, f"clean the {state} jobs of {q.name!r}")
        removed = q.clean(round(grace * 1000), limit, state)
        self.out(f"removed {plural(len(removed), state + ' job')} older than {grace:g} s "
                 f"from {q.name!r}")

    def do_promote(self, queue: str, yes: bool, **_: Any) -> None:
        q = self.queue(queue)
        count = q.get_job_counts("delayed")["delayed"]
        self.confirm(f"Move {plural(count, 'delayed job')} of {q.name!r} to waiting now?",
                     yes, f"promote the delayed jobs of {q.name!r}")
        moved = q.promote_jobs()
        self.out(f"promoted {plural(moved, 'delayed job')} of {q.name!r} to waiting")

    def do_pause(self, queue: str, yes: bool, **_: Any) -> None:
        q = self.queue(queue)
        waiting = sum(q.get_job_counts("waiting", "prioritized").values())
        if q.is_paused():
            self.out(f"{q.name!r} was already paused ({plural(waiting, 'job')} waiting)")
            return
        self.confirm(f"Pause {q.name!r}? Workers stop taking its "
                     f"{plural(waiting, 'waiting job')} until it is resumed.",
                     yes, f"pause {q.name!r}")
        q.pause()
        self.out(f"paused {q.name!r}: {plural(waiting, 'job')} waiting stay there until "
                 "it is resumed")

    def do_resume(self, queue: str, **_: Any) -> None:
        q = self.queue(queue)
        was_paused = q.is_paused()
        q.resume()
        waiting = sum(q.get_job_counts("waiting", "prioritized").values())
        if was_paused:
            self.out(f"resumed {q.name!r}: {plural(waiting, 'job')} waiting")
        else:
            self.out(f"{q.name!r} was not paused ({plural(waiting, 'job')} waiting)")

    def do_remove(self, queue: str, job_id: str, yes: bool, **_: Any) -> None:
        q = self.queue(queue)
        job = q.get_job(job_id)
        if job is None:
            raise CommandError(f"queue {q.name!r} has no job {job_id!r}")
        state = job.get_state()
        self.confirm(f"Remove job {job_id!r} ({job.name!r}, {state}) from {q.name!r}?",
                     yes, f"remove job {job_id!r} of {q.name!r}")
        if not q.remove(job_id):
            if q.get_job(job_id) is None:
                raise CommandError(f"job {job_id!r} of {q.name!r} is already gone")
            raise CommandError(f"job {job_id!r} of {q.name!r} is being processed (a worker "
                               "holds its lock); not removed")
        self.out(f"removed 1 job ({job_id!r}, {job.name!r}, was {state}) from {q.name!r}")

    # -- probing -------------------------------------------------------------------

    def do_health(self, queues: list[str], require_workers: bool, **_: Any) -> None:
        self.conn.execute("PING")
        if require_workers:
            names = queues or configured_queues()
            if not names:
                raise CommandError("--require-workers: no queue named, and no queue has a "
                                   "processor")
            try:
                idle = [name for name in names if not Queue(
                    name, connection=self.conn, prefix=self.prefix).get_workers()]
            except RedisCommandError as exc:  # some hosted Redis forbid CLIENT LIST
                raise CommandError(f"cannot count workers: CLIENT LIST failed: "
                                   f"{one_line(exc)}") from None
            if idle:
                raise CommandError(f"no live worker for queue{'s' if len(idle) > 1 else ''} "
                                   f"{', '.join(idle)}")
        self.out("ok")


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2)
