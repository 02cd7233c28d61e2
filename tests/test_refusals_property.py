"""Property: whatever the name, data and options, ``add`` either stores a job
that reads back equal, or raises a queuecore error and leaves Redis exactly as
it was (tests/snapshots.py). Hypothesis draws valid and invalid values alike."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from queuecore import Connection, FlowProducer, Job, Queue, QueueCoreError
from queuecore.keys import RESERVED_IDS

from .snapshots import changes, snapshot

T = TypeVar("T")

MAX = 2**53 - 1
# Text with everything a str may hold: lone surrogates, NUL, ':', any plane.
any_text = st.one_of(
    st.text(st.characters(codec=None, categories=None), max_size=12),
    st.text(st.sampled_from(["\udcff", "\ud800", "a", ":", "\x00", "é", "😀"]), max_size=4))
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.integers(min_value=-3, max_value=70),
    st.sampled_from([MAX, MAX + 1, 2**63, 10**100]),
    st.floats(allow_nan=True, allow_infinity=True), st.timedeltas(
        min_value=timedelta(days=-2), max_value=timedelta(days=2)))
junk = st.one_of(st.none(), st.booleans(), any_text, numbers, st.lists(st.integers(), max_size=2),
                 st.dictionaries(any_text, st.integers(), max_size=2))


def mostly(valid: st.SearchStrategy[Any],
           invalid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` about two times in three, so that enough adds get through to
    check what they stored (Hypothesis favours small integers: 0 and 1 are valid)."""
    return st.integers(min_value=0, max_value=2).flatmap(lambda i: invalid if i == 2 else valid)


def json_data(text: st.SearchStrategy[str], leaf: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), leaf, text),
        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                st.dictionaries(text, inner, max_size=3)),
        max_leaves=12)


names = mostly(st.text(min_size=1, max_size=12), st.one_of(any_text, junk))
data = mostly(json_data(st.text(max_size=8), st.floats(allow_nan=False, allow_infinity=False)),
              st.one_of(json_data(any_text, st.floats()), junk))
ms = st.one_of(st.integers(min_value=0, max_value=MAX), st.timedeltas(min_value=timedelta(0)))
count = st.integers(min_value=0, max_value=MAX)
flags = mostly(st.booleans(), junk)
job_ids = mostly(st.uuids().map(str), st.one_of(
    any_text, st.sampled_from(sorted(RESERVED_IDS)), st.integers().map(str),
    st.sampled_from(["repeat:s:1700000000000", "a:b", "de:x:y", "metrics:failed:data", "0:a:b",
                     "²", "007", "-5"]), junk))

OPTION_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "job_id": job_ids,
    "delay": mostly(ms, numbers | junk),
    "priority": mostly(st.integers(min_value=0, max_value=2_097_151), numbers | junk),
    "lifo": flags,
    "attempts": mostly(st.integers(min_value=1, max_value=MAX), numbers | junk),
    "backoff": mostly(st.one_of(ms, st.fixed_dictionaries(
        {"type": st.sampled_from(["fixed", "exponential"])},
        optional={"delay": ms, "jitter": st.floats(min_value=0, max_value=1)})),
        st.one_of(numbers, junk, st.fixed_dictionaries(
            {"type": st.sampled_from(["fixed", "linear"]) | junk},
            optional={"delay": numbers, "jitter": numbers, "extra": junk}))),
    "remove_on_complete": mostly(st.one_of(st.booleans(), count, st.fixed_dictionaries(
        {}, optional={"age": count, "count": count, "limit": count})),
        st.one_of(numbers, junk, st.fixed_dictionaries({}, optional={"age": numbers,
                                                                     "ages": junk}))),
    "remove_on_fail": mostly(st.one_of(st.booleans(), count), numbers | junk),
    "keep_logs": mostly(st.integers(min_value=1, max_value=MAX), numbers | junk),
    "timestamp": mostly(st.integers(min_value=1, max_value=MAX), numbers | junk),
    "stack_trace_limit": mostly(count, numbers | junk),
    "fail_parent_on_failure": flags,
    "continue_parent_on_failure": flags,
    "ignore_dependency_on_failure": flags,
    "remove_dependency_on_failure": flags,
    "deduplication": mostly(st.fixed_dictionaries(
        {"id": st.text(min_size=1, max_size=8)},
        optional={"ttl": st.integers(min_value=1, max_value=MAX), "extend": st.booleans(),
                  "replace": st.booleans(), "reschedule": st.booleans(),
                  "keep_last_if_active": st.booleans()}),
        st.one_of(junk, st.fixed_dictionaries({"id": any_text | junk}, optional={
            "ttl": numbers, "extend": junk, "replace": junk, "unknown": junk}))),
}
options = mostly(
    st.sets(st.sampled_from(sorted(OPTION_VALUES)), min_size=1, max_size=3).flatmap(
        lambda chosen: st.fixed_dictionaries({k: OPTION_VALUES[k] for k in chosen})),
    st.dictionaries(any_text, junk, max_size=2))  # unknown names, camelCase...


@pytest.fixture
def conn(redis_url: str) -> Iterator[Connection]:
    connection = Connection(redis_url)
    yield connection
    connection.close()


def read_back_equal(added: Job, back: Job | None) -> None:
    assert back is not None, f"job {added.id!r} was reported added but is not stored"
    assert (back.name, back.data, back.opts) == (added.name, added.data, added.opts)
    assert (back.delay, back.priority, back.timestamp) == (added.delay, added.priority,
                                                           added.timestamp)


def stored_or_unchanged(redis_url: str, what: str, store: Callable[[], T]) -> T | None:
    """What ``store()`` returns; None when it raised a queuecore error, which
    must have left Redis as it was."""
    before = snapshot(redis_url)
    try:
        result = store()
    except QueueCoreError as exc:
        event(f"refused: {type(exc).__name__}")
        assert not changes(before, snapshot(redis_url)), f"a refused {what} changed Redis"
        return None
    event("stored")
    return result


def check_add(conn: Connection, redis_url: str, name: Any, data: Any,
              opts: dict[str, Any], *, parent: Job | None = None) -> None:
    queue = Queue(f"prop-{uuid.uuid4().hex[:10]}", conn)
    if parent is not None:
        opts = {**opts, "parent": {"id": parent.id, "queue": parent.queue.keys.qualified}}
    job = stored_or_unchanged(redis_url, "add", lambda: queue.add(name, data, **opts))
    if job is None:
        return
    try:  # a fresh queue: no duplicate id, no deduplication hit
        read_back_equal(job, queue.get_job(job.id))
    finally:
        queue.obliterate(force=True)


@settings(max_examples=300)
@given(name=names, data=data, opts=options)
def test_add_stores_what_it_says_or_changes_nothing(
        conn: Connection, redis_url: str, name: Any, data: Any, opts: dict[str, Any]) -> None:
    check_add(conn, redis_url, name, data, opts)


@settings(max_examples=60)
@given(name=names, opts=options)
def test_a_child_add_stores_what_it_says_or_changes_nothing(
        conn: Connection, redis_url: str, name: str, opts: dict[str, Any]) -> None:
    parents = Queue(f"prop-parent-{uuid.uuid4().hex[:10]}", conn)
    try:
        parent = parents.add("parent", job_id=f"p-{uuid.uuid4().hex[:8]}")
        check_add(conn, redis_url, name, {"n": 1}, opts, parent=parent)
    finally:
        parents.obliterate(force=True)


def stored_once(jobs: list[Job], specs_opts: list[dict[str, Any]]) -> list[Job]:
    """The jobs whose read-back must equal what add returned: not a repeated
    custom id or deduplication id of the same call (those return another job)."""
    ids = [(job.queue.name, job.id) for job in jobs]
    dedup = [str(o.get("deduplication")) for o in specs_opts if isinstance(o, dict)
             and isinstance(o.get("deduplication"), dict)]
    return [job for job in jobs if ids.count((job.queue.name, job.id)) == 1
            and not (job.deduplication_id and len(dedup) > 1)]


@settings(max_examples=80)
@given(specs=st.lists(mostly(st.fixed_dictionaries(
    {"name": names}, optional={"data": data, "opts": mostly(options, junk)}),
    st.one_of(junk, st.dictionaries(any_text, junk, max_size=2))), min_size=1, max_size=4))
def test_add_bulk_stores_all_or_nothing(conn: Connection, redis_url: str,
                                        specs: list[dict[str, Any]]) -> None:
    queue = Queue(f"prop-bulk-{uuid.uuid4().hex[:10]}", conn)
    jobs = stored_or_unchanged(redis_url, "add_bulk", lambda: queue.add_bulk(specs))
    if jobs is None:
        return
    try:
        assert len(jobs) == len(specs)
        for job in stored_once(jobs, [s.get("opts") or {} for s in specs]):  # all dicts here
            read_back_equal(job, queue.get_job(job.id))
    finally:
        queue.obliterate(force=True)


def flow_nodes(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    children = st.just([]) if depth == 0 else st.lists(flow_nodes(depth - 1), max_size=2)
    return st.fixed_dictionaries(
        {"name": names, "queue_name": mostly(st.sampled_from(["A", "B"]), any_text | junk)},
        optional={"data": data, "opts": mostly(st.just({}), options | junk),
                  "children": mostly(children, junk)})


def _rename(node: Any, names: dict[str, str]) -> Any:
    """The tree with the placeholder queue names "A" and "B" made unique to the example."""
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if isinstance(node.get("queue_name"), str) and node["queue_name"] in names:
        node["queue_name"] = names[node["queue_name"]]
    if isinstance(node.get("children"), list):
        node["children"] = [_rename(child, names) for child in node["children"]]
    return node


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in node.children:
        yield from _walk(child)


@settings(max_examples=60)
@given(tree=flow_nodes(2))
def test_a_flow_is_stored_whole_or_not_at_all(conn: Connection, redis_url: str,
                                              tree: dict[str, Any]) -> None:
    suffix = uuid.uuid4().hex[:10]
    queue_names = {"A": f"prop-flow-a-{suffix}", "B": f"prop-flow-b-{suffix}"}
    tree = _rename(tree, queue_names)
    flow = FlowProducer(conn)
    root = stored_or_unchanged(redis_url, "flow", lambda: flow.add(tree))
    if root is None:
        return
    try:
        nodes = list(_walk(root))
        for job in stored_once([n.job for n in nodes], []):
            back = job.queue.get_job(job.id)
            read_back_equal(job, back)
            assert back.parent_key == job.parent_key
    finally:
        for name in queue_names.values():
            Queue(name, conn).obliterate(force=True)
