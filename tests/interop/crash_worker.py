"""A queuecore Worker in its own process, for the stalled-job tests: it takes
jobs and never finishes them, printing ``active <job id>`` for each, until it
is killed. ``python crash_worker.py <redis url> <queue name> <lock ms>``."""

from __future__ import annotations

import sys
import threading

from queuecore import Job, Worker


def main() -> None:
    url, queue_name, lock_ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
    forever = threading.Event()

    def processor(job: Job) -> None:
        print(f"active {job.id}", flush=True)
        forever.wait(60)

    worker = Worker(queue_name, processor, connection=url, lock_duration=lock_ms,
                    stalled_interval=250, drain_delay=0.2)
    # bounded: the test kills this process; a forgotten one exits after 60 s
    timer = threading.Timer(60, worker.close)
    timer.daemon = True
    timer.start()
    worker.run()


if __name__ == "__main__":
    main()
