"""BullMQ's key layout for one queue: ``<prefix>:<queue name>:<suffix>``."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import InvalidQueueNameError
from .text import as_bytes

# Queue-level key suffixes, as BullMQ names them.
SUFFIXES = (
    "wait", "paused", "active", "prioritized", "delayed", "completed", "failed",
    "waiting-children", "stalled", "stalled-check", "limiter", "meta", "events", "id",
    "pc", "marker", "repeat",
)

# Public state names -> key suffixes. "waiting" is BullMQ's name for the wait list.
STATE_SUFFIXES = {
    "waiting": "wait", "wait": "wait", "active": "active", "delayed": "delayed",
    "prioritized": "prioritized", "completed": "completed", "failed": "failed",
    "paused": "paused", "waiting-children": "waiting-children",
}
# The states kept in lists; every other state is a sorted set (scored by time
# or priority).
LIST_SUFFIXES = frozenset({"wait", "paused", "active"})
# A queue exists when it has one of these: every BullMQ script that writes a
# queue writes its meta (opts.maxLenEvents, lazily), and automatic ids the counter.
EXISTENCE_SUFFIXES = ("meta", "id")
# The order in which a job's state is probed (BullMQ's getState, get_state.lua).
STATE_PROBES = (("completed", "completed"), ("failed", "failed"), ("delayed", "delayed"),
                ("prioritized", "prioritized"), ("active", "active"), ("waiting", "wait"),
                ("waiting", "paused"), ("waiting-children", "waiting-children"))


def is_list(suffix: str) -> bool:
    """Whether a state's key is a list (else a sorted set)."""
    return suffix in LIST_SUFFIXES


def count_command(suffix: str) -> str:
    """The command that counts a state's jobs: LLEN for lists, ZCARD for sorted sets."""
    return "LLEN" if suffix in LIST_SUFFIXES else "ZCARD"


def member_command(suffix: str) -> str:
    """The command that finds one job in a state's key (None/nil when absent)."""
    return "LPOS" if suffix in LIST_SUFFIXES else "ZSCORE"


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """Every key name of one queue, computed once."""

    prefix: str
    name: str
    base: str = field(init=False)  # "<prefix>:<name>:", the key prefix of every job
    qualified: str = field(init=False)  # "<prefix>:<name>", how flows refer to a queue
    fetch_keys: list[str] = field(init=False, repr=False, compare=False)
    finish_keys: list[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidQueueNameError("queue name must be a non-empty string")
        if ":" in self.name:
            raise InvalidQueueNameError(
                f"queue name {self.name!r} contains ':', which BullMQ uses to separate "
                "key parts; use another character such as '-' or '.'"
            )
        for what, text in (("queue name", self.name), ("prefix", self.prefix)):
            if not isinstance(text, str):
                raise InvalidQueueNameError(f"{what} must be a string, not {type(text).__name__}")
            if not _is_bytes(text):
                raise InvalidQueueNameError(
                    f"{what} must be valid Unicode (no lone surrogates), not {text[:80]!r}")
        object.__setattr__(self, "qualified", f"{self.prefix}:{self.name}")
        object.__setattr__(self, "base", f"{self.prefix}:{self.name}:")
        # the KEYS of the fetching scripts (includes/worker_keys.lua), in order
        object.__setattr__(self, "fetch_keys", [self.base + s for s in (
            "wait", "active", "prioritized", "events", "stalled", "limiter", "delayed",
            "meta", "pc", "marker",
        )])
        object.__setattr__(self, "finish_keys",
                           [*self.fetch_keys, self.base + "completed", self.base + "failed"])

    def __getitem__(self, suffix: str) -> str:
        return self.base + suffix

    def job(self, job_id: str) -> str:
        return self.base + job_id

    def logs(self, job_id: str) -> str:
        return self.base + job_id + ":logs"

    def metrics(self, kind: str) -> str:
        """``<q>:metrics:completed`` or ``:failed``; its points are this + ``:data``."""
        return self.base + "metrics:" + kind


# A parent's child keys by status, as BullMQ keeps them: failed children that
# failed it (a sorted set), pending (a set), ignored failures and processed
# children (hashes keyed by the child's key).
CHILD_KEYS = (("failed", ":unsuccessful", "ZRANGE"), ("pending", ":dependencies", "SMEMBERS"),
              ("ignored", ":failed", "HKEYS"), ("processed", ":processed", "HKEYS"))


def split_job_key(prefix: str, key: str) -> tuple[str | None, str]:
    """``<prefix>:<queue>:<id>`` as (queue name, id); a key under another
    prefix as (None, key)."""
    head = prefix + ":"
    if key.startswith(head) and ":" in key[len(head):]:
        queue, job_id = key[len(head):].split(":", 1)
        return queue, job_id
    return None, key


def _is_bytes(text: str) -> bool:
    """Whether the text stands for bytes Redis can hold: UTF-8, where lone
    surrogates U+DC80..U+DCFF are bytes that were not UTF-8 (a queue another
    client named so, read back as text: it is addressed by the same bytes)."""
    try:
        as_bytes(text)
    except UnicodeEncodeError:
        return False
    return True


# Job ids that would be (or whose sub-keys, `<id>:lock`, `<id>:logs`, ...,
# would be) one of the queue's own keys: BullMQ's suffixes, its legacy ones
# (`priority`, `delay`), and the namespaces of keys built with an id
# (`de:<id>`, `dn:<id>`, `metrics:<kind>`, `repeat:<id>`).
RESERVED_IDS = frozenset(SUFFIXES) | {"de", "dn", "metrics", "priority", "delay"}
# The namespaces above whose keys have three parts, as a job id may
# (`repeat:<scheduler>:<ms>` is a scheduler's iteration job: allowed).
_RESERVED_NAMESPACES = frozenset({"de", "dn", "metrics"})


def reserved_job_id(job_id: str) -> bool:
    """Whether a job with this id would write over one of its queue's keys."""
    return job_id in RESERVED_IDS or job_id.partition(":")[0] in _RESERVED_NAMESPACES
