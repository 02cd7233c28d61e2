"""Chaos soak: jobs must survive killed workers, cut connections and Redis restarts.

    .venv/bin/python bench/soak.py [--jobs 100000] [--workers 4] [--concurrency 20]
        [--kill-every 3] [--client-kill-every 5] [--restart-every 30] [--down 2]
        [--seconds 900] [--add-rate 2000] [--keep DIR]

Starts its own Redis (``queuecore.embedded``, append-only file with
``appendfsync always`` in a temporary directory) and ``--workers`` worker
processes (this script with ``worker``), then adds ``--jobs`` jobs at
``--add-rate`` a second with custom ids (a batch refused while Redis is down
is sent again; an id already there is not added twice) and writes every id
Redis acknowledged to an ack log. The mix: 10% flaky (fail attempts 1 and 2,
complete at 3, fixed backoff), 5% doomed (fail both of 2 attempts), 15%
delayed up to 3 s, 15% prioritized, the rest plain. Meanwhile:

- every ``--kill-every`` s a random worker process is SIGKILLed and replaced;
- every ``--client-kill-every`` s one random client connection is CLIENT KILLed;
- every ``--restart-every`` s Redis is stopped, by SIGTERM and by SIGKILL in
  turn, for ``--down`` s, and a worker is killed and replaced while it is down.

When every acknowledged job is completed or failed (or ``--seconds`` ran out),
the chaos stops, the workers get a quiet period to recover what is left, and
the report says: acknowledged, completed, failed (by reason, and whether
that is the job's expected end), missing (acknowledged, not in Redis), stuck
(waiting, delayed or active after the quiet period), re-runs (an attempt run
more than once: at-least-once after a SIGKILL), wrong results, and worker
deaths nobody asked for. Exit code 1 if anything is missing, stuck or wrong,
or a worker died unasked.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's queuecore, when run as bench/soak.py

import redis  # noqa: E402

from queuecore import ConnectionFailedError, Job, Queue, Worker  # noqa: E402
from queuecore.embedded import EmbeddedRedis  # noqa: E402

QUEUE = "soak"
LOCK_MS = 5000
STALLED_MS = 3000


def kind_of(i: int) -> str:
    slot = i % 20
    if slot < 2:
        return "flaky"
    if slot == 2:
        return "doomed"
    if slot < 6:
        return "delayed"
    if slot < 9:
        return "prioritized"
    return "plain"


def job_spec(i: int, rng: random.Random) -> dict[str, Any]:
    kind = kind_of(i)
    opts: dict[str, Any] = {"job_id": f"s{i}"}
    if kind == "flaky":
        opts.update(attempts=3, backoff={"type": "fixed", "delay": 50})
    elif kind == "doomed":
        opts.update(attempts=2)
    elif kind == "delayed":
        opts.update(delay=rng.randrange(3000))
    elif kind == "prioritized":
        opts.update(priority=rng.randrange(1, 11))
    return {"name": kind, "data": {"i": i}, "opts": opts}


# -- worker processes ----------------------------------------------------------------


def worker_main(args: argparse.Namespace) -> int:
    runs = open(args.log, "a", buffering=1)  # line by line: a SIGKILL loses no whole line

    async def process(job: Job) -> dict[str, int]:
        attempt = job.attempts_made + 1
        runs.write(f"run {job.id} {attempt}\n")
        await asyncio.sleep(random.random() * 0.004)
        if job.name == "doomed" or (job.name == "flaky" and attempt < 3):
            raise RuntimeError(f"{job.name} job fails attempt {attempt}")
        return {"i": job.data["i"]}

    worker = Worker(QUEUE, process, args.url, concurrency=args.concurrency,
                    lock_duration=LOCK_MS, stalled_interval=STALLED_MS, max_stalled_count=1000,
                    drain_delay=1.0)
    worker.on("error", lambda exc: runs.write(f"error {type(exc).__name__} {exc}\n"))
    signal.signal(signal.SIGTERM, lambda *_: worker.close())
    runs.write("ready\n")  # from here a SIGTERM is a clean stop
    worker.run()
    runs.write("closed\n")
    return 0


class Workers:
    """The worker processes; a death the soak did not cause is recorded."""

    def __init__(self, url: str, concurrency: int, logs: Path) -> None:
        self.url, self.concurrency, self.logs = url, concurrency, logs
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log_of: dict[int, Path] = {}
        self.started = self.killed = 0
        self.unasked: list[str] = []

    def spawn(self) -> None:
        self.started += 1
        log = self.logs / f"worker-{self.started}.log"
        with open(log.with_suffix(".err"), "w") as err:
            proc = subprocess.Popen([sys.executable, __file__, "worker", "--url", self.url,
                                     "--log", str(log), "--concurrency", str(self.concurrency)],
                                    stdout=subprocess.DEVNULL, stderr=err)
        self.procs.append(proc)
        self.log_of[proc.pid] = log

    def kill_one(self, rng: random.Random) -> None:
        self.check()
        if self.procs:
            proc = self.procs.pop(rng.randrange(len(self.procs)))
            proc.kill()
            proc.wait()
            self.killed += 1
        self.spawn()

    def check(self) -> None:
        for proc in list(self.procs):
            if proc.poll() is not None:
                self.procs.remove(proc)
                self.unasked.append(f"pid {proc.pid} exited with {proc.returncode} "
                                    f"({self.log_of[proc.pid].name})")
                self.spawn()

    def ready(self, proc: subprocess.Popen[bytes]) -> bool:
        log = self.log_of[proc.pid]
        return log.exists() and "ready\n" in log.read_text(errors="replace")

    def stop(self) -> list[int | None]:
        self.check()
        deadline = time.monotonic() + 30
        for proc in self.procs:  # a SIGTERM before its handler is set is no clean stop
            while not self.ready(proc) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.terminate()
        codes = []
        for proc in self.procs:
            try:
                codes.append(proc.wait(LOCK_MS / 1000 + 30))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(None)
        return codes


# -- the soak ------------------------------------------------------------------------


def produce(url: str, jobs: int, rate: float, acked: list[str], done: threading.Event,
            refused: list[int]) -> None:
    rng = random.Random(7)
    queue = Queue(QUEUE, url)
    batch = 200
    started = time.monotonic()
    try:
        for first in range(0, jobs, batch):
            specs = [job_spec(i, rng) for i in range(first, min(first + batch, jobs))]
            while True:
                try:
                    added = queue.add_bulk(specs)
                    break
                except ConnectionFailedError:
                    refused[0] += 1
                    time.sleep(0.2)
            acked += [job.id for job in added]
            ahead = started + (first + batch) / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    finally:
        queue.close()
        done.set()


def counts(client: redis.Redis) -> dict[str, int]:
    pipe = client.pipeline()
    for key in ("completed", "failed", "delayed", "prioritized"):
        pipe.zcard(f"bull:{QUEUE}:{key}")
    for key in ("wait", "active"):
        pipe.llen(f"bull:{QUEUE}:{key}")
    return dict(zip(("completed", "failed", "delayed", "prioritized", "wait", "active"),
                    pipe.execute(), strict=True))


def soak(args: argparse.Namespace, work: Path) -> int:
    rng = random.Random(args.seed)
    server = EmbeddedRedis(work / "redis", extra_args=("--appendfsync", "always"))
    server.start()
    client = redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=5)
    workers = Workers(server.url, args.concurrency, work)
    chaos: collections.Counter[str] = collections.Counter()
    acked: list[str] = []
    refused = [0]
    produced = threading.Event()
    try:
        for _ in range(args.workers):
            workers.spawn()
        producer = threading.Thread(target=produce, args=(server.url, args.jobs, args.add_rate,
                                                          acked, produced, refused), daemon=True)
        started = time.monotonic()
        producer.start()
        next_kill = started + args.kill_every
        next_client_kill = started + args.client_kill_every
        next_restart = started + args.restart_every
        hard = False
        last_report = started
        while time.monotonic() - started < args.seconds:
            now = time.monotonic()
            workers.check()
            if now >= next_kill:
                workers.kill_one(rng)
                next_kill = now + args.kill_every
            if now >= next_client_kill:
                next_client_kill = now + args.client_kill_every
                try:
                    ids = [c["id"] for c in client.client_list()
                           if c.get("cmd") not in ("client|list", "client")]
                    if ids:
                        client.client_kill_filter(_id=rng.choice(ids))
                        chaos["client kills"] += 1
                except redis.RedisError:
                    pass
            if now >= next_restart:
                (server.kill if hard else server.stop)()
                chaos["restarts by SIGKILL" if hard else "restarts by SIGTERM"] += 1
                hard = not hard
                workers.kill_one(rng)  # its replacement starts while Redis is down
                time.sleep(args.down)
                server.start()
                next_restart = time.monotonic() + args.restart_every
            if produced.is_set():
                try:
                    state = counts(client)
                except redis.RedisError:
                    state = None
                if state and state["completed"] + state["failed"] >= len(acked):
                    break
            if now - last_report >= 10:
                last_report = now
                try:
                    print(f"  {now - started:6.0f} s  acked {len(acked)}  {counts(client)}  "
                          f"kills {workers.killed}  {dict(chaos)}", flush=True)
                except redis.RedisError:
                    pass
            time.sleep(0.1)
        chaos_s = time.monotonic() - started
        producer.join(60)
        # quiet period: no chaos; the workers recover what killed ones held
        quiet_until = time.monotonic() + args.quiet
        while time.monotonic() < quiet_until:
            workers.check()
            state = counts(client)
            if state["completed"] + state["failed"] >= len(acked) and state["active"] == 0:
                break
            time.sleep(0.5)
        total_s = time.monotonic() - started
        stop_codes = workers.stop()
        return report(args, client, work, acked, workers, chaos, refused[0], stop_codes,
                      chaos_s, total_s)
    finally:
        for proc in workers.procs:
            if proc.poll() is None:
                proc.kill()
        client.close()
        server.stop()


def report(args: argparse.Namespace, client: redis.Redis, work: Path, acked: list[str],
           workers: Workers, chaos: collections.Counter[str], refused: int,
           stop_codes: list[int | None], chaos_s: float, total_s: float) -> int:
    (work / "acked.log").write_text("\n".join(acked) + "\n")
    prefix = f"bull:{QUEUE}:"
    completed = set(client.zrange(prefix + "completed", 0, -1))
    failed = set(client.zrange(prefix + "failed", 0, -1))
    pending = (set(client.lrange(prefix + "wait", 0, -1))
               | set(client.lrange(prefix + "active", 0, -1))
               | set(client.zrange(prefix + "delayed", 0, -1))
               | set(client.zrange(prefix + "prioritized", 0, -1)))
    gone: list[str] = []  # acknowledged, and no hash left
    wrong: list[str] = []
    for chunk in range(0, len(acked), 5000):
        ids = acked[chunk:chunk + 5000]
        pipe = client.pipeline()
        for job_id in ids:
            pipe.hmget(prefix + job_id, "name", "returnvalue", "failedReason", "atm")
        for job_id, (name, value, reason, atm) in zip(ids, pipe.execute(), strict=True):
            if name is None:
                gone.append(job_id)
            elif job_id in completed or job_id in failed:
                kind = kind_of(int(job_id[1:]))
                expect_failed = kind == "doomed"
                good = (job_id in failed) == expect_failed
                if good and not expect_failed:
                    good = json.loads(value or "null") == {"i": int(job_id[1:])} and (
                        kind != "flaky" or atm == "3")
                if not good:
                    wrong.append(f"{job_id} ({kind}): returnvalue {value} reason {reason} "
                                 f"atm {atm}")
    missing = sorted({j for j in acked if j not in completed and j not in failed
                      and j not in pending} | set(gone))
    stuck = [j for j in acked if j in pending]
    reasons = collections.Counter()
    for job_id in failed:
        reasons[client.hget(prefix + job_id, "failedReason") or "?"] += 1
    runs: collections.Counter[tuple[str, str]] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    for log in work.glob("worker-*.log"):
        for line in log.read_text(errors="replace").splitlines():
            parts = line.split(" ", 2)
            if parts[0] == "run" and len(parts) == 3:
                runs[(parts[1], parts[2])] += 1
            elif parts[0] == "error" and len(parts) >= 2:
                errors[parts[1]] += 1
    reruns = sum(n - 1 for n in runs.values() if n > 1)
    rerun_jobs = len({job for (job, _), n in runs.items() if n > 1})
    bad_stops = [c for c in stop_codes if c != 0]
    print(f"\nsoak: {args.jobs} jobs, {args.workers} worker processes x {args.concurrency}, "
          f"{chaos_s:.0f} s of chaos, {total_s:.0f} s in all")
    print(f"  chaos: {workers.killed} worker SIGKILLs, "
          + ", ".join(f"{n} {what}" for what, n in sorted(chaos.items()))
          + f", {refused} add batches refused while Redis was down (sent again)")
    print(f"  acknowledged      {len(acked)}")
    print(f"  completed         {len(completed & set(acked))}")
    print(f"  failed            {len(failed & set(acked))}: "
          + "; ".join(f"{n} x {r!r}" for r, n in reasons.most_common(5)))
    print(f"  missing           {len(missing)} {missing[:10]}")
    print(f"  stuck             {len(stuck)} {stuck[:10]}")
    print(f"  wrong outcome     {len(wrong)} {wrong[:5]}")
    print(f"  re-runs           {reruns} attempts run again ({rerun_jobs} jobs), "
          "after a SIGKILL took their worker")
    print(f"  unasked deaths    {len(workers.unasked)} {workers.unasked[:5]}")
    print(f"  stops not clean   {len(bad_stops)} {bad_stops} (exit codes after the final SIGTERM)")
    print(f"  worker errors     {dict(errors.most_common())}")
    print(f"  throughput        {len(acked) / total_s:.0f} jobs/s overall")
    ok = not (missing or stuck or wrong or workers.unasked or bad_stops)
    print("  OK" if ok else "  FAILED")
    return 0 if ok else 1



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    w = sub.add_parser("worker")
    w.add_argument("--url", required=True)
    w.add_argument("--log", required=True)
    w.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--kill-every", type=float, default=3.0)
    parser.add_argument("--client-kill-every", type=float, default=5.0)
    parser.add_argument("--restart-every", type=float, default=30.0)
    parser.add_argument("--down", type=float, default=2.0, help="seconds Redis stays down")
    parser.add_argument("--seconds", type=float, default=900.0, help="chaos at most this long")
    parser.add_argument("--quiet", type=float, default=LOCK_MS / 1000 + 4 * STALLED_MS / 1000,
                        help="seconds without chaos for the workers to recover the rest")
    parser.add_argument("--add-rate", type=float, default=2000.0, help="jobs added a second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", help="keep the logs, ack log and Redis files in this folder")
    args = parser.parse_args()
    if args.command == "worker":
        return worker_main(args)
    if args.keep:
        work = Path(args.keep)
        work.mkdir(parents=True, exist_ok=True)
        return soak(args, work)
    with tempfile.TemporaryDirectory(prefix="queuecore-soak-") as tmp:
        return soak(args, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
