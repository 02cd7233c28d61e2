"""``manage.py runworker [queue ...]``: run the workers of the project's queues.

Replaces Channels' own ``runworker`` (queuecore sits before ``channels`` in
INSTALLED_APPS). SIGTERM or SIGINT stops fetching and lets active jobs finish
within ``--grace`` seconds; a second signal, or the grace running out, gives
the unfinished jobs back to wait (nothing is lost) and exits. The grace is
each ``Worker``'s own (``shutdown_grace``, ``close(force=True)``): this
command only wires the signals to its workers.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import signal
import socket
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from queuecore.conf import configured_queues, connection, load, queue_processor
from queuecore.job import Job, now_ms
from queuecore.worker import Worker
from queuecore.worklog import JobSummary

logger = logging.getLogger("queuecore.runworker")
WORKER_OPTIONS = ("concurrency", "limiter", "lock_duration", "stalled_interval",
                  "max_stalled_count", "drain_delay", "remove_on_complete", "remove_on_fail",
                  "metrics", "maximum_rate_limit_delay")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the job fields of the record."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": self.formatTime(record), "level": record.levelname,
                "logger": record.name, "message": record.getMessage()}
        line.update(getattr(record, "job", {}))
        return json.dumps(line)


def parse_limiter(text: str) -> dict[str, int]:
    try:
        most, per = text.split("/")
        limiter = {"max": int(most), "duration": int(per)}
    except ValueError:
        raise CommandError(f"--limiter takes MAX/DURATION_MS, e.g. 10/1000, not {text!r}") \
            from None
    if limiter["max"] < 1 or limiter["duration"] < 1:
        raise CommandError("--limiter needs a max and a duration of at least 1")
    return limiter


class Command(BaseCommand):
    help = "Run queuecore workers for the configured queues (or those named)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("queues", nargs="*", help="queues to run (default: every "
                            "queue with a processor)")
        parser.add_argument("--concurrency", type=int, help="jobs at a time, per queue")
        parser.add_argument("--limiter", help="at most MAX jobs per DURATION_MS, e.g. 10/1000")
        parser.add_argument("--sandboxed", action="store_true",
                            help="run processors in child processes (CPU-bound jobs)")
        parser.add_argument("--processes", type=int, default=0,
                            help="child processes per queue with --sandboxed "
                                 "(default: the concurrency)")
        parser.add_argument("--timeout", type=float, default=0,
                            help="with --sandboxed: kill a job's process after this many s")
        parser.add_argument("--log-level", default="INFO",
                            choices=["DEBUG", "INFO", "WARNING", "ERROR"])
        parser.add_argument("--log-format", default="text", choices=["text", "json"])
        # Django's -v: 0 no job lines, 1 (default) a summary line per
        # interval, 2 a line per job start and finish
        parser.add_argument("--verbose", dest="verbosity", action="store_const", const=2,
                            help="log every job's start and finish (same as -v 2)")
        parser.add_argument("--summary-interval", type=float, default=5.0,
                            help="seconds per summary line of finished jobs (at -v 1)")
        parser.add_argument("--max-jobs", type=int, default=0,
                            help="exit after this many jobs (0: never)")
        parser.add_argument("--max-time", type=float, default=0,
                            help="exit after this many seconds (0: never)")
        parser.add_argument("--grace", type=float, default=30.0,
                            help="seconds active jobs get to finish on SIGTERM/SIGINT")

    def handle(self, *args: Any, **options: Any) -> None:
        self.setup_logging(options["log_level"], options["log_format"])
        if options["summary_interval"] <= 0:
            raise CommandError("--summary-interval takes a number of seconds above 0")
        self.verbosity = options["verbosity"]
        self.summary = JobSummary(logger, options["summary_interval"])
        names = options["queues"] or configured_queues()
        if not names:
            raise CommandError("no queue has a processor: register one with @processor in an "
                               "app's jobs.py, or set QUEUECORE['QUEUES'][name]['processor']")
        limiter = parse_limiter(options["limiter"]) if options["limiter"] else None
        sandbox = {"sandboxed": True, "processes": options["processes"] or None,
                   "timeout": options["timeout"] or None} if options["sandboxed"] else {}
        workers = [self.make_worker(name, options["concurrency"], limiter, sandbox,
                                    options["grace"]) for name in names]
        died = asyncio.run(self.run(workers, options["max_jobs"], options["max_time"],
                                    options["grace"]))
        if died:  # exit non-zero: a process manager should see it and restart us
            raise CommandError("; ".join(died))

    def setup_logging(self, level: str, fmt: str) -> None:
        handler = logging.StreamHandler(self.stderr._out)  # type: ignore[attr-defined]
        handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger("queuecore")
        root.handlers[:] = [handler]
        root.setLevel(level)
        root.propagate = False

    def make_worker(self, name: str, concurrency: int | None,
                    limiter: dict[str, int] | None, sandbox: dict[str, Any],
                    grace: float = 30.0) -> Worker:
        processor: Any = queue_processor(name)
        if processor is not None and sandbox:
            # children find it again by name: the settings' path, or the registry's
            processor = load().queues.get(name, {}).get("processor") or f"queuecore:{name}"
        if processor is None:
            raise CommandError(f"queue {name!r} has no processor (known: "
                               f"{', '.join(configured_queues()) or 'none'})")
        conf = load()
        opts = {k: v for k, v in conf.queues.get(name, {}).items() if k in WORKER_OPTIONS}
        if concurrency:
            opts["concurrency"] = concurrency
        if limiter:
            opts["limiter"] = limiter
        size = (sandbox.get("processes") if sandbox else None) or opts.get("concurrency", 1)
        # the connection name says who runs it: host, pid and concurrency (get_workers)
        worker = Worker(name, processor, connection(conf.redis_url), prefix=conf.prefix,
                        name=f"{socket.gethostname()}:{os.getpid()}:{size}",
                        shutdown_grace=grace, **opts, **sandbox)
        self.log_jobs(worker)
        return worker

    def log_jobs(self, worker: Worker) -> None:
        queue = worker.queue.name
        worker.on("error", lambda exc: logger.error("%s: %s", queue, exc))
        if self.verbosity == 1:
            self.summary.watch(worker)
        if self.verbosity < 2:
            return

        def fields(job: Job, **more: Any) -> dict[str, Any]:
            return {"job": {"queue": queue, "job_id": job.id, "name": job.name,
                            "attempt": job.attempts_made + (0 if "outcome" in more else 1),
                            **more}}

        def took(job: Job) -> int:
            return now_ms() - (job.processed_on or now_ms())

        worker.on("active", lambda job, _prev: logger.info(
            "start %s #%s %s attempt %d", queue, job.id, job.name, job.attempts_made + 1,
            extra=fields(job)))
        worker.on("completed", lambda job, _result: logger.info(
            "done %s #%s %s attempt %d in %d ms", queue, job.id, job.name, job.attempts_made,
            took(job), extra=fields(job, outcome="completed", duration_ms=took(job))))
        worker.on("failed", lambda job, error: logger.warning(
            "failed %s #%s %s attempt %d in %d ms: %s", queue, job.id, job.name,
            job.attempts_made, took(job), error,
            extra=fields(job, outcome="failed", duration_ms=took(job), error=str(error))))

    async def run(self, workers: list[Worker], max_jobs: int, max_time: float,
                  grace: float) -> list[str]:
        """Run until a stop is asked or a worker dies; returns how workers died."""
        loop = asyncio.get_running_loop()
        stopping = False
        done_jobs = 0

        def stop(reason: str) -> None:
            nonlocal stopping
            if stopping:
                logger.warning("second stop (%s): giving active jobs back to wait", reason)
            else:
                logger.info("stopping (%s): no new jobs; active ones get %.0f s", reason, grace)
            for worker in workers:  # each gives its jobs back when its grace runs out
                worker.close(force=stopping)
            stopping = True

        def count(*_: Any) -> None:
            nonlocal done_jobs
            done_jobs += 1
            if max_jobs and done_jobs >= max_jobs and not stopping:
                stop(f"--max-jobs {max_jobs} reached")

        for worker in workers:
            worker.on("completed", count)
            worker.on("failed", count)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop, signal.Signals(sig).name)
        if max_time:
            loop.call_later(max_time, stop, f"--max-time {max_time:g} s reached")
        names = ", ".join(f"{w.queue.name} (concurrency {w.concurrency})" for w in workers)
        logger.info("worker %s pid %d running %s", socket.gethostname(), os.getpid(), names)
        runs = [asyncio.ensure_future(w.arun()) for w in workers]
        died: list[str] = []

        def ended(worker: Worker, run: asyncio.Future[None]) -> None:
            # a worker that ends without being asked to died: stop the others
            if run.cancelled() or (run.exception() is None and stopping):
                return
            error = run.exception()
            why = f"{type(error).__name__}: {error}" if error else "it stopped by itself"
            died.append(f"worker of queue {worker.queue.name} died ({why})")
            logger.error("%s", died[-1], exc_info=error)
            if not stopping:
                stop(died[-1])

        for worker, run in zip(workers, runs, strict=True):
            run.add_done_callback(functools.partial(ended, worker))
        await asyncio.gather(*runs, return_exceptions=True)
        logger.info("stopped")
        return died
