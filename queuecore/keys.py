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
