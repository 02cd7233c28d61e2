"""``Worker``: takes jobs from a queue and runs a processor on them.

One asyncio loop per worker. ``async def`` processors run as tasks, plain
``def`` processors in a thread pool, up to ``concurrency`` jobs at a time.
Finished attempts are sent to Redis in batches: one move_to_finished call
finishes every attempt that ended since the last call and fetches the jobs
that fill the freed slots, so a busy worker makes far fewer than one round
trip per job while Redis holds exactly what BullMQ's one-job calls leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import signal
import socket
import threading
import time
import types
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Generator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from redis.exceptions import RedisError

from . import decisions, schedulers, scripts
from .clients import worker_client_name
from .codes import ReplyCode
from .connection import Connection
from .decisions import Reaction
from .driver import AsyncExecutor, Call, Op, Pipeline, Request, twin
from .errors import (
    ConnectionFailedError,
    InvalidOptionError,
    JobCancelledError,
    LockError,
    QueueCoreError,
    UnrecoverableError,
)
from .job import Job, cancelled_reason, not_utf8_reason, now_ms
from .limits import check_limiter
from .options import encode_json
from .queue import Queue
from .sandbox import SandboxPool, path_of
from .scripts import Transition

logger = logging.getLogger("queuecore.worker")

Processor = Callable[[Job], Any] | Callable[[Job], Awaitable[Any]]
EVENTS = ("active", "completed", "failed", "progress", "stalled", "drained", "error", "closed",
          "cancelled")
MAX_BLOCK_S = 10.0  # BullMQ's cap on one BZPOPMIN
MIN_BLOCK_S = 0.001


class _Signal:
    """A reusable wake-up for the worker's loop: ``set()`` from callbacks,
    ``future()`` to wait on. Unlike ``asyncio.Event().wait()`` in
    ``asyncio.wait``, waiting creates no task."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._future: asyncio.Future[None] | None = None
        self.is_set = False

    def set(self) -> None:
        self.is_set = True
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    def clear(self) -> None:
        self.is_set = False

    def future(self) -> asyncio.Future[None]:
        if self._future is None or self._future.done():
            self._future = self._loop.create_future()
            if self.is_set:
                self._future.set_result(None)
        return self._future

    async def wait(self, timeout: float | None = None) -> None:
        await asyncio.wait([self.future()], timeout=timeout)
        self.clear()


@types.coroutine
def _resume(coro: Coroutine[Any, Any, Any], yielded: Any) -> Generator[Any, Any, Any]:
    """Go on with a coroutine that was stepped once by hand and suspended on
    ``yielded``: hand that to the task running us, then relay what comes back."""
    while True:
        try:
            sent = yield yielded
        except BaseException as exc:
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                return stop.value


def metrics_data_points(metrics: Any) -> int | None:
    """Worker(metrics={"max_data_points": n}): how many per-minute points to keep."""
    if metrics is None:
        return None
    if not isinstance(metrics, dict) or set(metrics) != {"max_data_points"}:
        raise InvalidOptionError(
            f"metrics must be {{'max_data_points': n}} (n minutes kept), not {metrics!r}")
    points = metrics["max_data_points"]
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise InvalidOptionError(
            f"metrics['max_data_points'] must be an integer >= 1, not {points!r}")
    return points


class Worker:
    """Runs ``processor(job)`` for the jobs of ``queue_name``.

    ``run()`` blocks until ``close()`` (which may be called from another thread
    or a signal handler); ``await arun()`` is the asyncio form. The processor's
    return value (JSON) completes the job; an exception fails the attempt, and
    the job is retried with its backoff while attempts remain, except for
    ``UnrecoverableError``, which fails it at once.

    Closing stops fetching and lets active jobs finish: within
    ``shutdown_grace`` seconds if set (None: as long as they take); jobs still
    running then, or at once with ``close(force=True)``, go back to the front
    of wait with no attempt counted, so nothing is lost. ``run()`` in the main
    thread closes on SIGINT/SIGTERM, and forces on a second one.
    """

    def __init__(
        self,
        queue_name: str,
        processor: Processor,
        connection: Any = None,
        *,
        prefix: str = "bull",
        concurrency: int = 1,
        lock_duration: int = 30_000,
        lock_renew_time: int | None = None,
        stalled_interval: int = 30_000,
        max_stalled_count: int = 1,
        drain_delay: float = 5.0,
        name: str | None = None,
        limiter: dict[str, int] | None = None,
        maximum_rate_limit_delay: int = 30_000,
        remove_on_complete: Any = None,
        remove_on_fail: Any = None,
        stack_trace_limit: int = 10,
        sandboxed: bool = False,
        processes: int | None = None,
        timeout: float | None = None,
        metrics: dict[str, int] | None = None,
        shutdown_grace: float | None = None,
        autorun: bool = False,
    ) -> None:
        if sandboxed:
            # run in `processes` child processes (default: concurrency), one job each
            try:
                spec = path_of(processor)
            except ValueError as exc:
                raise InvalidOptionError(str(exc)) from None
            concurrency = processes or concurrency
        elif not callable(processor):
            raise InvalidOptionError("processor must be a function taking the job, or its "
                                     "dotted path with sandboxed=True")
        for label, value, low in (("concurrency", concurrency, 1),
                                  ("lock_duration", lock_duration, 1),
                                  ("stalled_interval", stalled_interval, 1),
                                  ("max_stalled_count", max_stalled_count, 0),
                                  ("maximum_rate_limit_delay", maximum_rate_limit_delay, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidOptionError(f"{label} must be an integer >= {low}, not {value!r}")
        if limiter is not None:
            limiter = check_limiter(limiter)
        if shutdown_grace is not None and (isinstance(shutdown_grace, bool) or not isinstance(
                shutdown_grace, int | float) or shutdown_grace < 0):
            raise InvalidOptionError(f"shutdown_grace must be a number of seconds >= 0 or None, "
                                     f"not {shutdown_grace!r}")
        self._owns_connection = not isinstance(connection, Connection)
        self.connection = connection if isinstance(connection, Connection) \
            else Connection(connection)
        self.queue = Queue(queue_name, self.connection, prefix=prefix)
        self.queue.on_progress = self._progress
        self.keys = self.queue.keys
        self.name = name
        self.pool: SandboxPool | None = None
        if sandboxed:
            self.pool = SandboxPool(spec, concurrency, self.connection.url, prefix, timeout)
            processor = self.pool.run
        self.processor = processor
        self.is_async = inspect.iscoroutinefunction(processor)
        self.concurrency = concurrency
        self.lock_duration = lock_duration
        self.lock_renew_time = lock_renew_time or lock_duration // 2
        self.stalled_interval = stalled_interval
        self.max_stalled_count = max_stalled_count
        self.drain_delay = drain_delay
        # the longest wait for a limiter to expire: BullMQ's maximumRateLimitDelay,
        # so that a long window still lets the worker promote delayed jobs
        self.maximum_rate_limit_delay = maximum_rate_limit_delay
        self.remove_on_complete = remove_on_complete
        self.remove_on_fail = remove_on_fail
        self.stack_trace_limit = stack_trace_limit
        self.id = uuid.uuid4().hex
        self._args = scripts.WorkerArgs(
            token_base=self.id, lock_duration=lock_duration,
            limit_max=limiter["max"] if limiter else None,
            limit_duration=limiter["duration"] if limiter else None, name=name or "",
            max_metrics=metrics_data_points(metrics))
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self._active: dict[str, Job] = {}  # job id -> job being processed
        self._pending: list[tuple[scripts.Outcome, Job, Any]] = []
        self._released: set[str] = set()  # given back by release_active(): outcomes dropped
        # (first token, count) of fetching calls whose replies were lost: the
        # jobs they fetched are locked with this worker's tokens, to take over
        self._lost: list[tuple[int, int]] = []
        self._closing = False
        # closing: active jobs get shutdown_grace s from _close_started (None:
        # as long as they take), then, or at once when forced, go back to wait
        self.shutdown_grace = shutdown_grace
        self._close_started = 0.0
        self._force = False
        self._given_back: list[str] = []
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._thread: threading.Thread | None = None
        self._wake: _Signal | None = None
        self._stopped = threading.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._job_tasks: dict[str, asyncio.Task[Any]] = {}  # suspended async jobs, to cancel
        self.started_at: int | None = None
        self.host = socket.gethostname()
        self.pid = os.getpid()
        if autorun:
            self.start()

    def __repr__(self) -> str:
        return f"<Worker {self.keys.qualified} concurrency={self.concurrency}>"

    # -- events --------------------------------------------------------------------

    def on(self, event: str, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Call ``callback`` on a worker event:
        active(job), completed(job, result), failed(job, error), progress(job, progress),
        stalled(job_id), drained(), error(exception), closed(), cancelled(job, reason)."""
        if event not in EVENTS:
            raise InvalidOptionError(f"unknown worker event {event!r}; events are {EVENTS}")
        self._listeners.setdefault(event, []).append(callback)
        return callback

    def _emit(self, event: str, *args: Any) -> None:
        for callback in self._listeners.get(event, ()):
            try:
                result = callback(*args)
                if inspect.isawaitable(result):
                    self._spawn(result)
            except Exception:
                logger.exception("worker %s listener for %r raised", self.keys.qualified, event)

    def _progress(self, job: Job, progress: Any) -> None:
        # update_progress may run in a processor thread: emit on the loop
        if self._loop is None or threading.current_thread() is self._loop_thread:
            self._emit("progress", job, progress)
        else:
            self._loop.call_soon_threadsafe(self._emit, "progress", job, progress)

    def _spawn(self, awaitable: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- running -------------------------------------------------------------------

    def run(self, *, handle_signals: bool = True) -> None:
        """Process jobs until ``close()``. In the main thread (unless
        ``handle_signals=False``) SIGINT and SIGTERM close the worker
        gracefully and a second signal forces the close (active jobs go back to
        wait); the previous handlers are restored when ``run()`` returns."""
        if not handle_signals or threading.current_thread() is not threading.main_thread():
            asyncio.run(self.arun())
            return
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.getsignal(sig) for sig in signals}
        received = 0

        def stop(signum: int, _frame: Any) -> None:
            nonlocal received
            received += 1
            name = signal.Signals(signum).name
            if received == 1:
                logger.info("worker %s: %s: closing (no new jobs; active ones get %s)",
                            self.keys.qualified, name, "as long as they take"
                            if self.shutdown_grace is None else f"{self.shutdown_grace:g} s")
            else:
                logger.warning("worker %s: second signal (%s): giving active jobs back to wait",
                               self.keys.qualified, name)
            self.close(force=received > 1)

        for sig in signals:
            signal.signal(sig, stop)
        try:
            asyncio.run(self.arun())
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, signal.SIG_DFL if handler is None else handler)

    def start(self) -> None:
        """Run in the current event loop if there is one, else in a thread."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._thread = threading.Thread(target=self.run, name=f"worker-{self.queue.name}",
                                            daemon=True)
            self._thread.start()
        else:
            self._spawn_on(loop)

    def _spawn_on(self, loop: asyncio.AbstractEventLoop) -> None:
        self._run_task = loop.create_task(self.arun())

    async def arun(self) -> None:
        """Process jobs until ``aclose()``."""
        if self._running:
            raise RuntimeError("worker is already running")
        self._running = True
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.current_thread()
        self._wake = _Signal(self._loop)
        self._stopped.clear()
        self.started_at = now_ms()
        try:
            await self._serve()
        finally:
            self._running = False
            self._stopped.set()

    async def _serve(self) -> None:
        if not self.is_async:
            self._executor = ThreadPoolExecutor(self.concurrency,
                                                thread_name_prefix=f"job-{self.queue.name}")
        # The worker's calls go on the clients its Connection shares in this
        # loop (scripts, all of the hot path, on the auto-pipelined one); only
        # the blocking wait has a connection of its own, named for get_workers.
        self._redis = self.connection.async_executor
        self._blocking = self.connection.new_async_client(
            client_name=worker_client_name(self.keys.prefix, self.queue.name, self.name),
            socket_timeout=None)  # blocks up to MAX_BLOCK_S
        self._block = AsyncExecutor(self._blocking)
        if self.pool is not None:
            await self.pool.start()
        timers = [asyncio.ensure_future(self._every(self.lock_renew_time / 2000,
                                                    self._renew_locks)),
                  asyncio.ensure_future(self._every(self.stalled_interval / 1000,
                                                    self._check_stalled, first=0)),
                  asyncio.ensure_future(self._listen_cancels())]
        try:
            await self._main_loop()
        finally:
            for timer in timers:
                timer.cancel()
            await asyncio.gather(*timers, return_exceptions=True)
            await self._shutdown()

    async def _main_loop(self) -> None:
        marker: asyncio.Task[Any] | None = None
        drained = False  # the last fetch found nothing: block on the marker
        announced = False  # the "drained" event was emitted since jobs were last fetched
        next_delayed = 0
        retry_delay = 0.1
        limit_until = 0.0
        registered = False
        assert self._wake is not None
        while not self._closing:
            try:
                if not registered:
                    # Ping so that the registering name is set before the first job;
                    # inside the retry: a worker started before Redis waits for it.
                    await self._block(Call(("PING",)))
                    registered = True
                if self._lost:
                    await self._recover_lost()
                free = self.concurrency - len(self._active)
                asked = 0  # jobs asked for: only an empty answer to a fetch means drained
                if self._pending:
                    batch, self._pending = self._pending, []
                    # no fetch after a give back, as in BullMQ
                    limited = any(o.transition is Transition.GIVE_BACK for o, _, _ in batch)
                    asked = free if time.monotonic() >= limit_until and not limited else 0
                    fetched = await self._finish(batch, asked)
                elif free > 0 and not drained and time.monotonic() >= limit_until:
                    asked = free
                    fetched = await self._fetch(free)
                else:
                    fetched = None
                retry_delay = 0.1
            except (ConnectionFailedError, RedisError, OSError) as exc:
                self._emit("error", exc)
                logger.warning("worker %s: Redis error (%s); retrying in %.1f s",
                               self.keys.qualified, exc, retry_delay)
                await self._sleep(retry_delay)
                retry_delay = min(retry_delay * 2, 5.0)
                continue
            if fetched is not None:
                if fetched.rate_limit_ttl > 0:
                    wait = min(fetched.rate_limit_ttl, self.maximum_rate_limit_delay)
                    limit_until = time.monotonic() + wait / 1000
                if fetched.jobs:
                    drained = announced = False
                    self._start_jobs(fetched.jobs)
                    continue
                if asked > 0 and fetched.rate_limit_ttl <= 0:
                    drained = True
                    next_delayed = fetched.next_delayed
                    if not announced:
                        announced = True
                        self._emit("drained")
            if self._pending or self._closing:
                continue
            if free > 0 and not drained and time.monotonic() >= limit_until:
                continue  # a finish that fetched nothing (a job given back): fetch now
            # Nothing to send: wait for an attempt to end, a marker, or a timeout.
            waits: list[asyncio.Future[Any]] = [self._wake.future()]
            timeout = None
            if drained and free > 0:
                if marker is None:
                    marker = asyncio.ensure_future(self._wait_marker(next_delayed))
                waits.append(marker)
            elif limit_until > time.monotonic():
                timeout = limit_until - time.monotonic()
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            self._wake.clear()
            if marker is not None and marker.done():
                if marker.exception() is not None:
                    self._emit("error", marker.exception())
                    await self._sleep(retry_delay)
                marker = None
                drained = False
        if marker is not None:
            # drop the blocked connection rather than wait for BZPOPMIN to time out
            marker.cancel()
            pool = getattr(self._blocking, "connection_pool", None)  # not on a cluster client
            if pool is not None:
                await pool.disconnect()
            await asyncio.wait([marker], timeout=1)

    async def _wait_marker(self, next_delayed: int) -> None:
        """Block on the queue's marker until jobs are ready (or a delayed one is due)."""
        timeout = self.drain_delay
        if next_delayed:
            timeout = min(max((next_delayed - now_ms()) / 1000, 0), MAX_BLOCK_S)
        while timeout > 0:
            popped = await self._block(Call(("BZPOPMIN", self.keys["marker"],
                                             max(timeout, MIN_BLOCK_S))))
            if popped is None:
                return
            # a delay marker ("1") is scored with the due time: wait until then
            due = int(float(popped[2]))
            timeout = min((due - now_ms()) / 1000, MAX_BLOCK_S)
            if timeout <= 0.001:
                return

    async def _sleep(self, seconds: float) -> None:
        assert self._wake is not None
        await self._wake.wait(seconds)

    async def _every(self, seconds: float, action: Callable[[], Awaitable[None]],
                     first: float | None = None) -> None:
        await asyncio.sleep(seconds if first is None else first)
        while True:
            try:
                await action()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._emit("error", exc)
            await asyncio.sleep(seconds)

    # -- Redis calls ------------------------------------------------------------------

    async def _call(self, request: Request) -> Any:
        return await self._redis(request)

    async def _fetch(self, count: int) -> scripts.Fetched:
        start = self._args.token_counter
        try:
            reply = await self._call(scripts.move_to_active(self.keys, self._args, now_ms(),
                                                            count))
        except BaseException:
            self._lost.append((start, count))  # it may have run: look for its jobs
            raise
        return scripts.parse_fetched(reply, start, self._args)

    async def _recover_lost(self, give_back: bool = False) -> None:
        """Take over the jobs that calls with lost replies fetched: they are
        active, locked with this worker's tokens, and would otherwise wait for
        their locks to expire. Runs before any other fetch, so they fit in
        the slots those calls were filling; when closing, gives them back."""
        reply = await self._call(scripts.recover_fetched(self.keys, self._args, self._lost))
        self._lost.clear()
        jobs = [job for job in scripts.parse_recovered(reply) if job[0] not in self._active]
        if give_back:
            for job_id, _raw, token in jobs:
                await self._call(scripts.move_job_to_wait(self.keys, job_id, token))
        elif jobs:
            logger.warning("worker %s: took over %d job(s) fetched by a call whose reply was "
                           "lost: %s", self.keys.qualified, len(jobs),
                           ", ".join(job[0] for job in jobs))
            self._start_jobs(jobs)

    async def _finish(self, batch: list[tuple[scripts.Outcome, Job, Any]],
                      fetch: int) -> scripts.Fetched:
        start = self._args.token_counter
        now = now_ms()
        try:
            reply = await self._call(scripts.move_to_finished(
                self.keys, self._args, now, [o for o, _, _ in batch], fetch))
        except BaseException:
            # Keep them for the next try: nothing is lost. The call may have
            # run (reply lost): the resend tells the script what to look for.
            for outcome, job, _ in batch:
                if outcome.resent is None:
                    outcome.resent = (job.attempts_made, job.attempts_started,
                                      job.stalled_counter)
            self._pending[:0] = batch
            if fetch:
                self._lost.append((start, fetch))
            raise
        fetched = scripts.parse_fetched(reply, start, self._args, with_codes=True)
        for code, (outcome, job, result) in zip(fetched.codes, batch, strict=True):
            reaction = decisions.reaction(code, outcome.transition)
            if reaction is Reaction.FAIL_INSTEAD:
                # a flow parent whose children are not all done (still active and locked)
                self._settle(job, None, decisions.refusal(code, job.id))
            elif reaction is Reaction.REFUSED:
                err = scripts.script_error(code, "move_to_finished", job.id, "active")
                self._emit("error", err)
                logger.warning("worker %s: job %s could not be finished: %s",
                               self.keys.qualified, job.id, err)
            elif reaction is Reaction.GIVEN_BACK:
                job.token = None
            else:
                # the job object now says what Redis says
                job.attempts_made += 1
                job.token = None
                if outcome.transition is Transition.COMPLETE:
                    job.returnvalue, job.finished_on = result, now
                    self._emit("completed", job, result)
                else:
                    job.failed_reason = outcome.value
                    if outcome.transition is Transition.FAIL:
                        job.finished_on = now
                    self._emit("failed", job, result)
        return fetched

    async def _renew_locks(self) -> None:
        if not self._active:
            return
        locks = [(job.id, job.token) for job in self._active.values() if job.token]
        lost = await self._call(scripts.extend_locks(self.keys, self.lock_duration, locks))
        sent = dict(locks)
        for job_id in lost:
            job = self._active.get(job_id)
            if job is None or job.token != sent[job_id]:
                continue  # it finished (or was given back) while the call was out
            self._emit("error", LockError(f"lock of job {job_id} was lost", -2))
        await self._check_cancelled()

    # -- cancellation ----------------------------------------------------------------

    async def _listen_cancels(self) -> None:
        """Hear ``Queue.cancel_job`` for this queue's jobs on pub/sub (one
        subscription per Connection and loop, shared with other workers). A
        request missed while the subscription was down is found in the job
        hash, on (re)subscribing and at every lock renewal."""
        subscriptions = self.connection.subscriptions
        if subscriptions is None:  # a cluster: lock renewals only
            return
        channel = self.keys["cancel"]
        await subscriptions.subscribe(channel, self._on_cancel_request, self._check_cancelled)
        try:
            await asyncio.get_running_loop().create_future()  # until the worker stops
        finally:
            await subscriptions.unsubscribe(channel, self._on_cancel_request)

    def _on_cancel_request(self, data: str) -> None:
        try:
            request = json.loads(data)
            self._cancel(str(request["jobId"]), str(request.get("reason") or ""))
        except (ValueError, KeyError, TypeError):
            pass  # not ours: someone else published on the channel

    async def _check_cancelled(self) -> None:
        jobs = [job for job in self._active.values() if job.cancel_reason is None]
        if not jobs:
            return
        reasons = await self._call(Pipeline([Call(("HGET", self.keys.job(job.id), "cancelled"))
                                             for job in jobs]))
        for job, reason in zip(jobs, reasons, strict=True):
            if reason is not None:
                self._cancel(job.id, reason)

    def _cancel(self, job_id: str, reason: str) -> None:
        job = self._active.get(job_id)
        if job is None or job.cancel_reason is not None:
            return
        job.cancel_reason = reason  # what a def processor checks (is_cancelled)
        self._emit("cancelled", job, reason)
        task = self._job_tasks.get(job_id)
        if task is not None:  # an async def (or sandboxed) processor that suspended
            task.cancel()

    async def _check_stalled(self) -> None:
        moved = await self._call(scripts.move_stalled_jobs_to_wait(
            self.keys, self.max_stalled_count, now_ms(), self.stalled_interval))
        for job_id in moved:
            self._emit("stalled", job_id, "active")

    # -- processing --------------------------------------------------------------------

    def _start_jobs(self, jobs: list[tuple[str, dict[str, str], str]],
                    scheduled: bool = False) -> None:
        for job_id, raw, token in jobs:
            job = Job(self.queue, job_id, raw)  # never raises: bad fields read as defaults
            job.token = token
            self._active[job_id] = job
            if job.scheduler_id and not scheduled:
                # a job scheduler's iteration: add the next one first, as BullMQ does
                self._spawn(self._next_iteration(job, (job_id, raw, token)))
                continue
            if self._listeners.get("active"):
                self._emit("active", job, "waiting")
            not_utf8 = not_utf8_reason(job_id, raw)
            if not_utf8 is not None:
                self._settle(job, None, UnrecoverableError(not_utf8))
            elif job.deferred_failure:
                self._settle(job, None, UnrecoverableError(job.deferred_failure))
            elif job.cancel_reason is not None:  # cancelled, then recovered as stalled
                self._settle(job, None, JobCancelledError(cancelled_reason(job.cancel_reason)))
            elif self.is_async:
                self._step(job)
            else:
                self._spawn(self._run_in_thread(job))

    async def _next_iteration(self, job: Job, fetched: tuple[str, dict[str, str], str]) -> None:
        try:
            await self._redis.run(schedulers.next_iteration(self.queue, job))
        except Exception as exc:
            self._emit("error", QueueCoreError(
                f"could not add the next iteration of job scheduler {job.scheduler_id!r} "
                f"after job {job.id}: {exc}"))
        self._start_jobs([fetched], scheduled=True)

    def _step(self, job: Job) -> None:
        # Run the processor up to its first suspension right here, like an
        # eager task: a job that never suspends costs no task and no extra
        # loop pass; one that does goes on in a task of its own.
        try:
            coro = self.processor(job)
            yielded = coro.send(None)  # type: ignore[union-attr]
        except StopIteration as stop:
            self._settle(job, stop.value, None)
        except Exception as exc:
            self._settle(job, None, exc)
        else:
            self._job_tasks[job.id] = self._spawn(
                self._go_on(job, _resume(coro, yielded)))  # type: ignore[arg-type]

    async def _go_on(self, job: Job, rest: Awaitable[Any]) -> None:
        try:
            result = await rest
        except asyncio.CancelledError:
            if job.cancel_reason is None:
                raise  # the worker is stopping (release_active), not a cancelled job
            self._settle(job, None, JobCancelledError(cancelled_reason(job.cancel_reason)))
        except Exception as exc:
            self._settle(job, None, exc)
        else:
            self._settle(job, result, None)

    async def _run_in_thread(self, job: Job) -> None:
        assert self._loop is not None
        try:
            result = await self._loop.run_in_executor(self._executor, self.processor, job)
        except Exception as exc:
            self._settle(job, None, exc)
        else:
            self._settle(job, result, None)

    def _settle(self, job: Job, result: Any, error: Exception | None) -> None:
        """Record how an attempt ended; the loop sends it with its next call."""
        if error is None:
            try:
                outcome = self._completed(job, encode_json(result,
                                                           f"return value of job {job.id}"))
            except Exception as exc:
                error = exc
        if error is not None:
            result = error
            try:
                outcome = self._failed(job, error)
            except Exception as bad:  # e.g. options of the wrong type, written by hand
                outcome = decisions.failing_failed(job, error, bad)
        self._active.pop(job.id, None)
        self._job_tasks.pop(job.id, None)
        if job.token and job.token in self._released:
            return  # given back to wait already; another worker will run it
        self._pending.append((outcome, job, result))
        assert self._wake is not None
        self._wake.set()

    def _defaults(self) -> decisions.Defaults:
        return decisions.Defaults(self.remove_on_complete, self.remove_on_fail,
                                  self.stack_trace_limit)

    def _completed(self, job: Job, value: str) -> scripts.Outcome:
        return decisions.completed(job, value, self._defaults())

    def _failed(self, job: Job, exc: BaseException) -> scripts.Outcome:
        return decisions.failed(job, exc, self._defaults())

    # -- manual rate limit --------------------------------------------------------------

    def _rate_limit(self, ms: int) -> Op[None]:
        """Stop the queue's rate-limited workers from starting jobs for ``ms``
        (``queue.rate_limit``); then raise ``RateLimitError`` from the processor
        to give the current job back."""
        yield from self.queue._rate_limit(ms)

    rate_limit, arate_limit = twin(_rate_limit)

    # -- closing -----------------------------------------------------------------------

    def close(self, timeout: float | None = None, *, force: bool = False) -> None:
        """Stop taking jobs, let active ones finish (within ``shutdown_grace``),
        then stop; ``force=True`` gives active jobs back to wait now. From
        another thread this waits (up to ``timeout`` s) until the worker has
        stopped; in the worker's own thread (a signal handler) it only asks."""
        loop = self._loop
        if loop is None or not self._running:
            self._request_close(force)
            return
        loop.call_soon_threadsafe(self._request_close, force)
        if threading.current_thread() is not self._loop_thread:
            self._stopped.wait(timeout)

    async def aclose(self, *, force: bool = False) -> None:
        """Stop taking jobs, let active ones finish (within ``shutdown_grace``),
        then stop; ``force=True`` gives active jobs back to wait now."""
        self._request_close(force)
        if self._running:
            await asyncio.get_running_loop().run_in_executor(None, self._stopped.wait)

    async def release_active(self) -> list[str]:
        """``aclose(force=True)``: give every active job back to wait (no
        attempt counted) and stop; returns the ids given back. Running
        processors are cancelled (threads are left to end by themselves)."""
        await self.aclose(force=True)
        return list(self._given_back)

    def _request_close(self, force: bool = False) -> None:
        if not self._closing:
            self._close_started = time.monotonic()
        self._closing = True
        self._force = self._force or force
        if self._wake is not None:
            self._wake.set()

    def _grace_left(self) -> float | None:
        """Seconds active jobs still have (0: give them back now; None: no limit)."""
        if self._force:
            return 0.0
        if self.shutdown_grace is None:
            return None
        return max(self._close_started + self.shutdown_grace - time.monotonic(), 0.0)

    async def _give_back_active(self) -> None:
        """Put every active job back at the front of wait, without an attempt,
        and cancel what runs them; their outcomes, if any come, are dropped."""
        jobs = list(self._active.values())
        self._active.clear()
        for job in jobs:
            if job.token is None:
                continue
            self._released.add(job.token)
            try:
                code = await self._call(scripts.move_job_to_wait(self.keys, job.id, job.token))
            except (ConnectionFailedError, RedisError, OSError) as exc:
                self._emit("error", exc)  # its lock expires: it is recovered as stalled
                continue
            if code == ReplyCode.OK:
                self._given_back.append(job.id)
        for task in list(self._tasks):
            task.cancel()
        if jobs:
            logger.warning("worker %s: gave %d unfinished job(s) back to wait after %.1f s: %s",
                           self.keys.qualified, len(self._given_back),
                           time.monotonic() - self._close_started, ", ".join(self._given_back))

    async def _shutdown(self) -> None:
        # Let running attempts end, then report them (fetching nothing more).
        assert self._wake is not None
        if self._lost:
            with contextlib.suppress(ConnectionFailedError, RedisError, OSError):
                await self._recover_lost(give_back=True)
        while self._active or self._pending:
            if self._pending:
                batch, self._pending = self._pending, []
                try:
                    await self._finish(batch, 0)
                except (ConnectionFailedError, RedisError, OSError) as exc:
                    self._emit("error", exc)
                    await asyncio.sleep(0.5)
                continue
            left = self._grace_left()
            if left == 0:
                await self._give_back_active()
                continue
            await self._wake.wait(left)
        await self._close_clients()
        if self._executor is not None:
            self._executor.shutdown(wait=False)
        if self.pool is not None:
            await self.pool.stop()
        self._emit("closed")

    async def _close_clients(self) -> None:
        await self._blocking.aclose()
        if self._owns_connection:  # made from a URL or client: nobody else uses it
            await self.connection.aclose()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
