"""The engine refuses what would corrupt a queue: a clear queuecore error, and
Redis byte-for-byte unchanged (tests/snapshots.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from queuecore import (
    FlowProducer,
    InvalidOptionError,
    InvalidQueueNameError,
    JobNotFoundError,
    Queue,
    QueueCoreError,
    ScriptError,
    SerializationError,
    WrongTypeError,
)
from queuecore.keys import RESERVED_IDS
from queuecore.options import MAX_SAFE_INTEGER

from .snapshots import changes, snapshot


@pytest.fixture
def refused(redis_url: str) -> Callable[..., QueueCoreError]:
    """Call ``fn``; it must raise ``error`` (matching ``match``) and leave every
    key of the server as it was."""

    def check(error: type[Exception], fn: Callable[[], Any], match: str = "") -> Any:
        before = snapshot(redis_url)
        with pytest.raises(error, match=match) as caught:
            fn()
        assert not changes(before, snapshot(redis_url)), "a refused call changed Redis"
        assert isinstance(caught.value, QueueCoreError)
        return caught.value

    return check


def nested(depth: int) -> list[Any]:
    data: list[Any] = []
    for _ in range(depth):
        data = [data]
    return data


# -- job ids -------------------------------------------------------------------------------

@pytest.mark.parametrize("job_id", [
    *sorted(RESERVED_IDS), "de:user:7", "dn:user:7", "metrics:completed:data",
    "metrics:failed:data"])
def test_ids_that_are_queue_keys_are_refused(queue: Queue, refused: Callable[..., Any],
                                             job_id: str) -> None:
    queue.add("first")  # the queue's keys exist
    refused(InvalidOptionError, lambda: queue.add("x", job_id=job_id), "queue's own keys")
    refused(InvalidOptionError, lambda: queue.add_bulk([{"name": "x", "opts": {"job_id": job_id}}]),
            "queue's own keys")
    # and the queue goes on: before, "wait" made every later add fail with WRONGTYPE
    assert queue.add("after").id == "2"
    assert queue.get_job_counts("waiting") == {"waiting": 2}


def test_meta_as_an_id_was_a_silent_no_op(queue: Queue, refused: Callable[..., Any]) -> None:
    # meta exists as soon as the queue has been used, so "meta" read as a duplicate
    queue.add("first")
    refused(InvalidOptionError, lambda: queue.add("x", job_id="meta"), "'meta'")


@pytest.mark.parametrize("job_id", ["42", "-5", "0", "9007199254740992",
                                    "12345678901234567000"])
def test_integer_ids_are_refused_as_bullmq_does(queue: Queue, refused: Callable[..., Any],
                                                job_id: str) -> None:
    refused(InvalidOptionError, lambda: queue.add("x", job_id=job_id), "integer|'0'")


@pytest.mark.parametrize("job_id", ["007", "-0", "+5", "²", "٣", "repeat:nightly:1700000000000",
                                    "9007199254740993", "9" * 30])
def test_ids_bullmq_accepts_are_accepted(queue: Queue, job_id: str) -> None:
    # "²" passed str.isdigit() and then crashed int() with a ValueError
    job = queue.add("x", {"n": 1}, job_id=job_id)
    assert job.id == job_id
    assert queue.get_job(job_id).data == {"n": 1}


# -- values that crashed ---------------------------------------------------------------------

@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda q: q.add("x", {"text": "\udcff"}), SerializationError, "lone surrogate"),
    (lambda q: q.add("x", ["\ud800"]), SerializationError, "lone surrogate"),
    (lambda q: q.add("\udcffname"), InvalidOptionError, "job name is not valid Unicode"),
    (lambda q: q.add("x", job_id="id-\udcff"), InvalidOptionError, "job_id is not valid"),
    (lambda q: q.add("x", deduplication={"id": "\udcff"}), SerializationError,
     "job options is not valid Unicode"),
    (lambda q: q.add("x", parent={"id": "p\udcff", "queue": "bull:q"}), InvalidOptionError,
     r"parent\['id'\] is not valid"),
    (lambda q: q.add_bulk([{"name": "ok"}, {"name": "x", "data": "\udcff"}]), SerializationError,
     "lone surrogate"),
    (lambda q: q.add("x", nested(5000)), SerializationError, "nested too deeply"),
    (lambda q: q.add("x", parent={"id": nested(5000), "queue": "bull:q"}), InvalidOptionError,
     r"parent must be"),
    (lambda q: q.add("x", job_id=nested(5000)), InvalidOptionError, "job_id must be"),
    (lambda q: q.add("x", delay=10**100), InvalidOptionError, "delay must be at most"),
    (lambda q: q.add("x", delay=2**62), InvalidOptionError, "delay must be at most"),
    (lambda q: q.add("x", timestamp=2**60 + 1), InvalidOptionError, "timestamp must be at most"),
    (lambda q: q.add("x", attempts=2**64), InvalidOptionError, "attempts must be at most"),
    (lambda q: q.add("x", backoff={"type": "fixed", "delay": 2**53}), InvalidOptionError,
     "at most"),
    (lambda q: q.add("x", remove_on_complete={"count": 10**30}), InvalidOptionError, "at most"),
    (lambda q: q.add("x", deduplication={"id": "d", "ttl": 10**20}), InvalidOptionError,
     "at most"),
    (lambda q: q.add("x", delay=10**5000), InvalidOptionError, "delay must be at most"),
    (lambda q: q.add(""), InvalidOptionError, "job name must be a non-empty string"),
    (lambda q: q.add_bulk([{"name": "x", "opts": {1: 2}}]), InvalidOptionError,
     "option names are strings"),
    (lambda q: q.add_bulk([{"name": "ok"}, None]), InvalidOptionError, "item 1 must be a dict"),
    (lambda q: q.add_bulk([{"name": "x", "opts": 5}]), InvalidOptionError,
     "opts of add_bulk item 0 must be a dict"),
    (lambda q: FlowProducer(q.connection).add({"name": "x", "queue_name": q.name, "opts": 5}),
     InvalidOptionError, r"opts of flow node \[0\] must be a dict"),
], ids=["surrogate-data", "high-surrogate-data", "surrogate-name", "surrogate-id",
        "surrogate-dedup-id", "surrogate-parent", "surrogate-bulk", "deep-data",
        "deep-parent-message", "deep-id-message", "delay-1e100", "delay-2^62", "timestamp-2^60",
        "attempts-2^64", "backoff-2^53", "keep-1e30", "ttl-1e20", "delay-5000-digits",
        "empty-name", "option-name-not-str", "bulk-item-none", "bulk-opts-int",
        "flow-opts-int"])
def test_values_that_crashed_are_refused(queue: Queue, refused: Callable[..., Any],
                                         call: Callable[[Queue], Any], error: type[Exception],
                                         match: str) -> None:
    queue.add("first")
    refused(error, lambda: call(queue), match)


@pytest.mark.parametrize(("scheduler_id", "template", "match"), [
    ("s\ud800", {}, "scheduler id is not valid Unicode"),
    ("nightly", {"name": "\udcff"}, "template name is not valid Unicode"),
    ("nightly", {"data": "\udcff"}, "template data is not valid Unicode"),
])
def test_schedulers_refuse_lone_surrogates(queue: Queue, refused: Callable[..., Any],
                                           scheduler_id: str, template: dict[str, Any],
                                           match: str) -> None:
    refused(QueueCoreError, lambda: queue.upsert_job_scheduler(
        scheduler_id, {"every": 60000}, template), match)


@pytest.mark.parametrize("repeat", [
    {"every": 1000, "start_date": 10**20}, {"every": 1000, "end_date": 10**30},
    {"every": 1000, "start_date": 2**53 + 5}])
def test_schedulers_refuse_times_lua_cannot_print(queue: Queue, refused: Callable[..., Any],
                                                  repeat: dict[str, Any]) -> None:
    # 10**20 raised OverflowError; 2**53 + 5 made the iteration "repeat:s:9.007199254741e+15"
    refused(InvalidOptionError, lambda: queue.upsert_job_scheduler("s", repeat), "between 0 and")


def test_the_largest_exact_integers_are_stored_exactly(queue: Queue) -> None:
    job = queue.add("x", timestamp=MAX_SAFE_INTEGER, attempts=MAX_SAFE_INTEGER,
                    delay=MAX_SAFE_INTEGER)
    back = queue.get_job(job.id)
    assert (back.timestamp, back.delay, back.attempts) == (MAX_SAFE_INTEGER,) * 3
    assert back.opts == job.opts


def test_a_queue_name_with_a_lone_surrogate_is_refused(redis_url: str) -> None:
    with pytest.raises(InvalidQueueNameError, match="valid Unicode"):
        Queue("q\ud800", connection=redis_url)
    # U+DC80..U+DCFF stand for bytes that were not UTF-8, as a foreign queue's
    # name reads back: such a queue can be addressed
    assert Queue("q\udcff", connection=redis_url).keys.base == "bull:q\udcff:"
    with pytest.raises(InvalidQueueNameError, match="valid Unicode"):
        Queue("q", connection=redis_url, prefix="b\ud800")


def test_retry_with_a_bad_state_is_a_queuecore_error(queue: Queue) -> None:
    job = queue.add("x")
    with pytest.raises(InvalidOptionError, match="retry state must be 'failed' or 'completed'"):
        job.retry("zz")
    with pytest.raises(ValueError):  # still a ValueError for callers that caught that
        job.retry("waiting")


# -- parent ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("parent", "match"), [
    ({"id": "p", "queue": "bull:"}, "qualified name"),
    ({"id": "p", "queue": ":orders"}, "qualified name"),
    ({"id": "p", "queue": "orders"}, "qualified name"),
    ({"id": "wait", "queue": "bull:orders"}, "names a queue key"),
    ({"id": "a:b", "queue": "bull:orders"}, "has ':'"),
    ({"id": "p"}, "parent must be"),
    ({"id": "", "queue": "bull:orders"}, "parent must be"),
])
def test_malformed_parents_are_refused(queue: Queue, refused: Callable[..., Any],
                                       parent: dict[str, str], match: str) -> None:
    refused(InvalidOptionError, lambda: queue.add("child", parent=parent), match)


def test_a_missing_parent_writes_nothing(queue: Queue, refused: Callable[..., Any]) -> None:
    queue.add("first")
    parent = {"id": "nope", "queue": queue.keys.qualified}
    refused(JobNotFoundError, lambda: queue.add("child", parent=parent), "parent job")
    # in a batch the jobs before it are not stored either (they were)
    refused(JobNotFoundError, lambda: queue.add_bulk([
        {"name": "a"}, {"name": "b", "opts": {"job_id": "b"}},
        {"name": "c", "opts": {"parent": parent}}]), "parent job of c")


def test_a_parent_that_is_not_a_job_hash_is_refused(queue: Queue, r: redis.Redis,
                                                    refused: Callable[..., Any]) -> None:
    queue.add("first")
    r.rpush(queue.keys.job("notajob"), "x")  # a foreign list where a job would be
    refused(WrongTypeError, lambda: queue.add(
        "child", parent={"id": "notajob", "queue": queue.keys.qualified}), "not a hash")


def test_a_child_of_another_parent_writes_nothing(queue: Queue,
                                                  refused: Callable[..., Any]) -> None:
    for parent in ("p1", "p2"):
        queue.add(parent, job_id=parent)
    queue.add("child", job_id="c", parent={"id": "p1", "queue": queue.keys.qualified})
    # BullMQ increments the id counter before refusing (-7); queuecore refuses first
    refused(ScriptError, lambda: queue.add(
        "child", job_id="c", parent={"id": "p2", "queue": queue.keys.qualified}),
        "another parent")


# -- keys a foreigner broke -------------------------------------------------------------------

@pytest.mark.parametrize(("suffix", "value", "options"), [
    ("wait", "a string", {}),
    ("prioritized", "a string", {"priority": 3}),
    ("delayed", "a string", {"delay": 5000}),
    ("marker", "a string", {}),
    ("events", "a string", {}),
    ("id", "not a number", {}),
    ("pc", "abc", {"priority": 1}),
    ("de:user-7", ["a", "list"], {"deduplication": {"id": "user-7"}}),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_broken_key_fails_the_add_before_it_writes(
        queue: Queue, r: redis.Redis, refused: Callable[..., Any], suffix: str, value: Any,
        options: dict[str, Any]) -> None:
    queue.add("first")
    key = queue.keys[suffix]
    r.delete(key)
    if isinstance(value, list):
        r.rpush(key, *value)
    else:
        r.set(key, value)
    try:
        error = refused(WrongTypeError, lambda: queue.add("x", **options), key)
    finally:
        r.delete(key)  # so that the fixture can obliterate the queue
    assert "nothing was added" in str(error)
    assert error.__cause__ is not None  # redis-py's error, kept


def test_a_broken_active_list_fails_the_add_under_global_concurrency(
        queue: Queue, r: redis.Redis, refused: Callable[..., Any]) -> None:
    queue.add("first")
    r.set(queue.keys["active"], "broken")
    try:
        assert queue.add("not-counted")  # without a global limit add never reads it
        queue.set_global_concurrency(5)  # now the add counts the active jobs
        refused(WrongTypeError, lambda: queue.add("x"), queue.keys["active"])
    finally:
        r.delete(queue.keys["active"])


@pytest.mark.parametrize("field", ["opts.maxLenEvents", "concurrency"])
def test_garbage_numbers_in_meta_fail_the_add_before_it_writes(
        queue: Queue, r: redis.Redis, refused: Callable[..., Any], field: str) -> None:
    queue.add("first")
    r.hset(queue.keys["meta"], field, "lots")
    try:
        refused(WrongTypeError, lambda: queue.add("x"), field)
    finally:
        r.hdel(queue.keys["meta"], field)


def test_a_custom_id_whose_key_is_not_a_hash_is_refused(
        queue: Queue, r: redis.Redis, refused: Callable[..., Any]) -> None:
    r.set(queue.keys.job("taken"), "foreign")
    refused(WrongTypeError, lambda: queue.add("x", job_id="taken"), "not a hash")


@pytest.fixture
def flow_queues(redis_url: str) -> Iterator[tuple[FlowProducer, str, str]]:
    parent, child = f"flow-p-{uuid.uuid4().hex[:8]}", f"flow-c-{uuid.uuid4().hex[:8]}"
    flow = FlowProducer(redis_url)
    yield flow, parent, child
    for name in (parent, child):
        Queue(name, flow.connection).obliterate(force=True)
    flow.close()


def test_a_flow_over_a_broken_queue_writes_nothing_anywhere(
        flow_queues: tuple[FlowProducer, str, str], r: redis.Redis,
        refused: Callable[..., Any]) -> None:
    flow, parent, child = flow_queues
    Queue(parent, flow.connection).add("warm-up")
    r.set(f"bull:{child}:wait", "broken")
    tree = {"name": "root", "queue_name": parent, "children": [
        {"name": "ok", "queue_name": parent}, {"name": "leaf", "queue_name": child}]}
    try:
        refused(WrongTypeError, lambda: flow.add(tree), f"bull:{child}:wait")
    finally:
        r.delete(f"bull:{child}:wait")


def test_a_flow_node_with_a_reserved_id_is_refused(
        flow_queues: tuple[FlowProducer, str, str], refused: Callable[..., Any]) -> None:
    flow, parent, child = flow_queues
    tree = {"name": "root", "queue_name": parent, "opts": {"job_id": "events"},
            "children": [{"name": "leaf", "queue_name": child}]}
    refused(InvalidOptionError, lambda: flow.add(tree), "queue's own keys")


def test_async_add_refuses_the_same(queue: Queue, r: redis.Redis,
                                    refused: Callable[..., Any]) -> None:
    queue.add("first")
    refused(InvalidOptionError, lambda: asyncio.run(queue.aadd("x", job_id="wait")), "own keys")
    r.delete(queue.keys["wait"])
    r.set(queue.keys["wait"], "broken")

    async def add() -> None:
        try:
            await queue.aadd("x")  # the auto-pipelined connection's error path
        finally:
            await queue.aclose()

    try:
        refused(WrongTypeError, lambda: asyncio.run(add()), "nothing was added")
    finally:
        r.delete(queue.keys["wait"])
