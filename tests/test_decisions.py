"""The worker's decisions, as pure functions: no Redis, no Worker."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuecore import RateLimitError, UnrecoverableError, backoff, decisions
from queuecore.codes import ReplyCode
from queuecore.decisions import Defaults, Reaction
from queuecore.errors import JobCancelledError, ScriptError
from queuecore.sandbox import SandboxedError
from queuecore.scripts import Transition

DEFAULTS = Defaults()


@dataclass
class Fetched:
    """A job as the worker fetched it (what decisions read of a Job)."""

    opts: dict[str, Any] = field(default_factory=dict)
    attempts_made: int = 0
    stacktrace: list[str] = field(default_factory=list)
    id: str = "7"
    token: str | None = "w:1"


def raised(exc: Exception) -> Exception:
    try:
        raise exc
    except Exception as caught:
        return caught


def test_a_return_completes_with_the_worker_retention_unless_the_job_has_its_own() -> None:
    outcome = decisions.completed(Fetched(), '{"ok":1}', Defaults(remove_on_complete=10))
    assert (outcome.transition, outcome.value, outcome.keep_count) == (
        Transition.COMPLETE, '{"ok":1}', 10)
    own = decisions.completed(Fetched(opts={"remove_on_complete": {"age": 60}}), "1",
                              Defaults(remove_on_complete=10))
    assert (own.keep_count, own.keep_age) == (-1, 60)
    assert decisions.completed(Fetched(opts={"remove_on_complete": True}), "1",
                               DEFAULTS).keep_count == 0


def test_a_job_without_a_token_is_finished_unlocked() -> None:
    assert decisions.completed(Fetched(token=None), "1", DEFAULTS).token == "0"


@given(attempts=st.integers(0, 10), made=st.integers(0, 10))
def test_an_error_retries_while_attempts_remain(attempts: int, made: int) -> None:
    job = Fetched(opts={"attempts": attempts}, attempts_made=made)
    outcome = decisions.failed(job, raised(ValueError("boom")), DEFAULTS)
    if made + 1 < attempts:
        assert outcome.transition is Transition.RETRY
    else:
        assert outcome.transition is Transition.FAIL
        assert outcome.attempts == attempts
    assert outcome.value == "boom"


@given(made=st.integers(0, 5))
def test_unrecoverable_errors_fail_at_once(made: int) -> None:
    job = Fetched(opts={"attempts": 10}, attempts_made=made)
    for exc in (UnrecoverableError("no"), JobCancelledError("cancelled")):
        assert decisions.failed(job, exc, DEFAULTS).transition is Transition.FAIL


@given(delay=st.integers(1, 10**7), made=st.integers(0, 8))
def test_backoff_strategies_give_the_delay(delay: int, made: int) -> None:
    fixed = Fetched(opts={"attempts": 20, "backoff": {"type": "fixed", "delay": delay}},
                    attempts_made=made)
    outcome = decisions.failed(fixed, raised(ValueError("x")), DEFAULTS)
    assert (outcome.transition, outcome.delay) == (Transition.DELAY, delay)
    exponential = Fetched(opts={"attempts": 20,
                                "backoff": {"type": "exponential", "delay": delay}},
                          attempts_made=made)
    outcome = decisions.failed(exponential, raised(ValueError("x")), DEFAULTS)
    assert outcome.delay == round(2 ** made * delay)


@given(delay=st.integers(1, 10**6), jitter=st.floats(0.01, 1))
def test_jitter_stays_below_the_delay(delay: int, jitter: float) -> None:
    job = Fetched(opts={"attempts": 3, "backoff": {"type": "fixed", "delay": delay,
                                                   "jitter": jitter}})
    outcome = decisions.failed(job, raised(ValueError("x")), DEFAULTS)
    assert outcome.transition in (Transition.DELAY, Transition.RETRY)
    assert delay * (1 - jitter) - 1 <= outcome.delay <= delay


@pytest.fixture
def custom_backoff() -> Any:
    seen: list[tuple[int, str]] = []

    def strategy(made: int, options: dict[str, Any], error: BaseException, job: Any) -> int:
        seen.append((made, str(error)))
        return {1: 0, 2: 250}.get(made, -1)

    backoff.register("test-steps", strategy)
    yield seen
    backoff._custom.pop("test-steps", None)


def test_a_custom_strategy_decides_retry_delay_or_stop(custom_backoff: list[Any]) -> None:
    opts = {"attempts": 9, "backoff": {"type": "test-steps"}}
    transitions = [decisions.failed(Fetched(opts=opts, attempts_made=made),
                                    raised(ValueError("e")), DEFAULTS)
                   for made in (0, 1, 2)]
    assert [o.transition for o in transitions] == [Transition.RETRY, Transition.DELAY,
                                                   Transition.FAIL]
    assert transitions[1].delay == 250
    assert custom_backoff == [(1, "e"), (2, "e"), (3, "e")]


def test_a_backoff_that_fails_fails_the_job_saying_so() -> None:
    job = Fetched(opts={"attempts": 5, "backoff": {"type": "nobody-registered-this"}})
    outcome = decisions.failed(job, raised(ValueError("e")), DEFAULTS)
    assert outcome.transition is Transition.FAIL
    assert outcome.value.startswith("e (backoff failed: ")


def test_a_rate_limit_error_gives_the_job_back() -> None:
    job = Fetched(opts={"attempts": 1})
    for exc in (RateLimitError(), SandboxedError("bullmq:rateLimitExceeded")):
        outcome = decisions.failed(job, exc, DEFAULTS)
        assert (outcome.transition, outcome.value, outcome.stacktrace) == (
            Transition.GIVE_BACK, "", "")


def test_the_failure_keeps_the_job_retention_and_lifo() -> None:
    job = Fetched(opts={"attempts": 2, "lifo": True})
    retry = decisions.failed(job, raised(ValueError("e")), Defaults(remove_on_fail=3))
    assert retry.lifo and retry.keep_count == -1  # retention applies to final ones only
    final = decisions.failed(Fetched(), raised(ValueError("e")), Defaults(remove_on_fail=3))
    assert final.keep_count == 3
    own = decisions.failed(Fetched(opts={"remove_on_fail": 0}), raised(ValueError("e")),
                           Defaults(remove_on_fail=3))
    assert own.keep_count == 0


@given(limit=st.integers(0, 5), earlier=st.integers(0, 6))
def test_stack_traces_keep_the_last_limit(limit: int, earlier: int) -> None:
    job = Fetched(opts={"stack_trace_limit": limit},
                  stacktrace=[f"old {i}" for i in range(earlier)])
    stack = json.loads(decisions.failed(job, raised(ValueError("e")), DEFAULTS).stacktrace)
    assert len(stack) == min(limit, earlier + 1)
    if limit:
        assert "ValueError: e" in stack[-1]


def test_a_sandboxed_error_keeps_the_child_traceback() -> None:
    outcome = decisions.failed(Fetched(), SandboxedError("e", "child trace"), DEFAULTS)
    assert json.loads(outcome.stacktrace) == ["child trace"]


def test_an_empty_message_fails_with_the_error_type() -> None:
    assert decisions.failed(Fetched(), raised(KeyError()), DEFAULTS).value == "KeyError"


@given(attempts=st.one_of(st.text(max_size=3), st.booleans(), st.none(), st.floats()))
def test_options_of_the_wrong_type_read_as_defaults(attempts: Any) -> None:
    job = Fetched(opts={"attempts": attempts, "stack_trace_limit": "x"})
    outcome = decisions.failed(job, raised(ValueError("e")), DEFAULTS)
    assert outcome.transition is Transition.FAIL and outcome.attempts == 0


@given(code=st.sampled_from(list(ReplyCode)), transition=st.sampled_from(list(Transition)))
def test_reactions_to_reply_codes(code: ReplyCode, transition: Transition) -> None:
    reaction = decisions.reaction(code, transition)
    if transition is Transition.COMPLETE and code in (ReplyCode.PENDING_CHILDREN,
                                                      ReplyCode.FAILED_CHILDREN):
        assert reaction is Reaction.FAIL_INSTEAD
    elif code < 0:
        assert reaction is Reaction.REFUSED
    elif transition is Transition.GIVE_BACK:
        assert reaction is Reaction.GIVEN_BACK
    else:
        assert reaction is Reaction.APPLIED


def test_a_parent_with_failed_children_fails_for_good() -> None:
    assert isinstance(decisions.refusal(ReplyCode.FAILED_CHILDREN, "p"), UnrecoverableError)
    pending = decisions.refusal(ReplyCode.PENDING_CHILDREN, "p")
    assert isinstance(pending, ScriptError) and pending.code == ReplyCode.PENDING_CHILDREN
    retried = decisions.failed(Fetched(opts={"attempts": 2}), pending, DEFAULTS)
    assert retried.transition is Transition.RETRY


def test_outcomes_pack_in_the_order_the_script_unpacks() -> None:
    outcome = decisions.failed(Fetched(opts={"attempts": 3, "backoff": {"delay": 1000}}),
                               raised(ValueError("e")), DEFAULTS)
    packed = outcome.packed()
    assert packed[:4] == ("7", "w:1", "delay", "e")
    assert packed[8:] == (1000, 0, ())
