"""Finding a queue's jobs by id, name, data or failure reason, and reading
every job of some states (exports), without holding Redis for long.

A search walks each state newest first in bounded chunks
(``lua/search_jobs.lua``: at most ``chunk`` jobs and ``budget`` bytes per
call). ``JobSearch.step()`` is one such call written once as an operation
(see ``connection.py``); ``search_jobs`` and ``asearch_jobs`` drive it with
the sync or asyncio client and yield a ``SearchProgress`` per chunk. Stopping
is stopping the iteration: nothing is held in Redis between chunks.

    for progress in search_jobs(queue, "data", "customer.id=42", states="failed"):
        for job, state in progress.jobs: ...
"""

from __future__ import annotations

import json
import math
import re
import string
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import scripts
from .driver import Call, Op, Pipeline
from .errors import InvalidOptionError
from .job import Job
from .keys import count_command
from .queue import STATES, SUMMARY_FIELDS, Queue

KINDS = ("id", "name", "data", "reason")
EVERY = "every"  # not a search: every job of the states (exports)
# "all states", in the order a job usually goes through them
SEARCH_STATES = ("active", "waiting", "waiting-children", "prioritized", "delayed",
                 "completed", "failed", "paused")
CHUNK = 1000  # jobs looked at per call: about 1-3 ms of Redis time (bench/search.py)
BUDGET = 1 << 20  # bytes read per call, so a chunk of big jobs stays short too
SEEN_CAP = 100_000  # matched ids remembered to drop repeats (jobs moving between states)
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# key=value in a data search: a dotted path of plain names, then "="
_KEY_VALUE = re.compile(r"^\s*([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)\s*=(.*)$", re.DOTALL)
_FIELD = {"name": "name", "data": "data", "reason": "failedReason"}


def ascii_lower(text: str) -> str:
    """Lower-case as the Lua side does (ASCII letters only)."""
    return text.translate(_ASCII_LOWER)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What to look for: ``kind`` is id, name, data or reason (or EVERY)."""

    kind: str
    text: str
    states: tuple[str, ...]
    key: str | None = None  # a key=value data search: the dotted path...
    value: str | None = None  # ...and the value, as text

    def describe(self) -> str:
        if self.kind == EVERY:
            return "every job"
        if self.key is not None:
            return f"data {self.key} = {self.value}"
        return {"id": "job id", "name": "name containing", "data": "data containing",
                "reason": "failure reason containing"}[self.kind] + f" {self.text}"

    def match_args(self) -> tuple[str, ...]:
        if self.kind == EVERY:
            return ("all",)
        if self.key is not None:
            return ("kv", "", self.key, self.value or "")
        return ("sub", _FIELD[self.kind], ascii_lower(self.text))

    def matches_value(self, value: Any) -> bool:
        """The Lua match, in Python, on a value as someone is shown it (data
        after a formatter, a reason redacted): a data search looks in the
        value's compact JSON, a name or reason search in the text; key=value
        compares the value at the path as ``lua/search_jobs.lua`` does."""
        if self.kind == EVERY:
            return True
        if self.key is None:
            text = value if isinstance(value, str) and self.kind != "data" else _compact(value)
            return ascii_lower(self.text) in ascii_lower(text)
        node = value
        for part in self.key.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]  # "items.0.sku": arrays count from 0
            else:
                return False
        return _as_text_equal(node, self.value or "")


def _compact(value: Any) -> str:
    """JSON as queuecore and Node store it (no spaces, characters unescaped)."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # what JSON cannot hold (a cycle, a tuple key...)
        return ""


def _as_text_equal(node: Any, value: str) -> bool:
    """A JSON value equal to ``value`` typed as text: numbers by value, true,
    false and null as JSON writes them, strings as they are."""
    if isinstance(node, bool):
        return value == ("true" if node else "false")
    if node is None:
        return value == "null"
    if isinstance(node, int | float):
        if "_" in value:  # Python's float() reads "1_000", Lua's tonumber() does not
            return False
        try:
            number = float(value)
        except ValueError:
            return False
        return math.isfinite(number) and number == node
    return isinstance(node, str) and node == value


def make_query(kind: str, text: str = "",
               states: str | Iterable[str] | None = None) -> SearchQuery:
    """A checked query; a bad one raises ``InvalidOptionError`` saying what is wrong.

    ``data`` searches are ``key=value`` when the text starts with a dotted
    path of plain names and ``=`` (``customer.id=42``, ``items.0.sku=A1``);
    any other text is a substring. Substrings match without regard to ASCII
    case; ``key=value`` matches the value exactly."""
    if kind not in (*KINDS, EVERY):
        raise InvalidOptionError(f"search by {kind!r}? Search by one of: {', '.join(KINDS)}")
    if states is None or states == "all":
        chosen = SEARCH_STATES
    else:
        chosen = (states,) if isinstance(states, str) else tuple(states)
        unknown = [s for s in chosen if s not in STATES]
        if unknown or not chosen:
            raise InvalidOptionError(
                f"unknown job state {unknown[0] if unknown else ''!r}; states are "
                f"{', '.join(SEARCH_STATES)} or all")
        chosen = tuple(dict.fromkeys("waiting" if s == "wait" else s for s in chosen))
    if kind == EVERY:
        return SearchQuery(kind, "", chosen)
    if not isinstance(text, str) or not text.strip():
        raise InvalidOptionError("type what to search for: the search text is empty")
    if len(text) > 1000:
        raise InvalidOptionError("the search text is too long (over 1,000 characters)")
    text = text.strip() if kind in ("id", "name") else text
    if kind == "data":
        pair = _KEY_VALUE.match(text)
        if pair:
            return SearchQuery(kind, text, chosen, pair.group(1), pair.group(2).strip())
    return SearchQuery(kind, text, chosen)


@dataclass(slots=True)
class SearchProgress:
    """What one step found and how far the search has looked."""

    jobs: list[tuple[Job, str]]  # this step's matches, each with the state it was found in
    state: str  # the state this step read
    scanned: int  # jobs looked at so far, over every state searched
    total: int  # jobs in the states searched (as last counted)
    matched: int  # matches so far
    done: bool
    limited: bool = False  # stopped at the limit of matches
    per_state: dict[str, tuple[int, int]] = field(default_factory=dict)  # (looked, total)


class JobSearch:
    """The state of one search: which state it is in, its cursor, its counts.

    ``limit`` stops it after that many matches (None: no limit); ``fields``
    are the job fields read for each match (the default is a list row's
    summary; ``()`` reads whole jobs, data included); ``keep``, when given,
    is a further test each match must pass before it counts (the dashboard:
    what its user is shown matches too)."""

    def __init__(self, queue: Queue, query: SearchQuery, *, chunk: int = CHUNK,
                 budget: int = BUDGET, limit: int | None = None,
                 fields: Sequence[str] = SUMMARY_FIELDS,
                 keep: Callable[[Job], bool] | None = None) -> None:
        if chunk < 1 or budget < 1 or (limit is not None and limit < 1):
            raise InvalidOptionError("chunk, budget and limit must be at least 1")
        self.queue, self.query = queue, query
        self.chunk, self.budget, self.limit, self.fields = chunk, budget, limit, tuple(fields)
        self.keep = keep
        self.index = 0  # which of query.states is being read
        self.cursor = ""
        self.looked = dict.fromkeys(query.states, 0)
        self.totals = dict.fromkeys(query.states, 0)
        self.matched = 0
        self.done = False
        self.limited = False
        self.started = False
        self.seen: OrderedDict[str, None] = OrderedDict()  # the oldest is dropped first

    def progress(self, jobs: list[tuple[Job, str]], state: str) -> SearchProgress:
        return SearchProgress(
            jobs, state, sum(self.looked.values()), sum(self.totals.values()), self.matched,
            self.done, self.limited,
            {s: (self.looked[s], self.totals[s]) for s in self.query.states})

    def _fresh(self, job_id: str) -> bool:
        if job_id in self.seen:
            return False
        self.seen[job_id] = None
        if len(self.seen) > SEEN_CAP:
            # O(1), unlike deleting a plain dict's first key over and over
            self.seen.popitem(last=False)
        return True

    def step(self) -> Op[SearchProgress]:
        """Read one chunk (the first step also counts every state searched)."""
        if self.done:
            return self.progress([], self.query.states[-1])
        if self.query.kind == "id":
            return (yield from self._by_id())
        keys = self.queue.keys
        if not self.started:
            self.started = True
            calls = [Call((count_command(_suffix(s)), keys[_suffix(s)]))
                     for s in self.query.states]
            for state, count in zip(self.query.states, (yield Pipeline(calls)), strict=True):
                self.totals[state] = int(count)
            self._skip_empty()
            if self.done:
                return self.progress([], self.query.states[-1])
        state = self.query.states[self.index]
        want = self.chunk if self.limit is None else self.limit - self.matched
        reply = scripts.parse_search((yield scripts.search_jobs(
            keys, _suffix(state), self.cursor, self.chunk, self.budget, want, self.fields,
            self.query.match_args())))
        self.looked[state] += reply.looked
        self.totals[state] = max(reply.total, self.looked[state])
        jobs = [(Job(self.queue, job_id, raw), state) for job_id, raw in reply.jobs
                if self._fresh(job_id)]
        if self.keep is not None:
            jobs = [(job, s) for job, s in jobs if self.keep(job)]
        self.matched += len(jobs)
        self.cursor = reply.cursor
        if self.limit is not None and self.matched >= self.limit:
            self.done = self.limited = True
        elif not self.cursor:
            self.index += 1
            self._skip_empty()
        return self.progress(jobs, state)

    def _skip_empty(self) -> None:
        """Go past states that were empty when counted (one call saved each)."""
        states = self.query.states
        while self.index < len(states) and self.totals[states[self.index]] == 0:
            self.index += 1
        self.done = self.index >= len(states)

    def _by_id(self) -> Op[SearchProgress]:
        job_id = self.query.text
        reply = yield Call(("HGETALL", self.queue.keys.job(job_id)))
        self.done = True
        state = self.query.states[0]
        jobs: list[tuple[Job, str]] = []
        if reply:
            found = yield scripts.get_state(self.queue.keys, job_id)
            if found in self.query.states:
                state = found
                jobs = [(Job(self.queue, job_id, reply), found)]
                self.looked[found] = self.totals[found] = 1
        self.matched = len(jobs)
        return self.progress(jobs, state)


def _suffix(state: str) -> str:
    return STATES[state]


def search_jobs(queue: Queue, kind: str, text: str = "",
                states: str | Iterable[str] | None = None, *, chunk: int = CHUNK,
                budget: int = BUDGET, limit: int | None = None,
                fields: Sequence[str] = SUMMARY_FIELDS) -> Iterator[SearchProgress]:
    """Search with the sync client, one ``SearchProgress`` per chunk."""
    search = JobSearch(queue, make_query(kind, text, states), chunk=chunk, budget=budget,
                       limit=limit, fields=fields)
    while not search.done:
        yield queue.connection.run(search.step())


async def asearch_jobs(queue: Queue, kind: str, text: str = "",
                       states: str | Iterable[str] | None = None, *, chunk: int = CHUNK,
                       budget: int = BUDGET, limit: int | None = None,
                       fields: Sequence[str] = SUMMARY_FIELDS) -> AsyncIterator[SearchProgress]:
    """``search_jobs`` with the asyncio client."""
    search = JobSearch(queue, make_query(kind, text, states), chunk=chunk, budget=budget,
                       limit=limit, fields=fields)
    while not search.done:
        yield await queue.connection.arun(search.step())
