"""QUEUECORE settings checks, the processor registry and get_queue."""

from __future__ import annotations

from typing import Any

import pytest

from queuecore import Job, Queue, Worker, get_queue, processor, registry
from queuecore.conf import check_settings, problems
from tests.helpers import wait_for


def test_typos_in_settings_are_errors_naming_the_key(settings: Any) -> None:
    settings.QUEUECORE = {"REDIS_URL": "redis://x", "PREFX": "bull",
                          "DEFAULT_JOB_OPTIONS": {"attemps": 3},
                          "QUEUES": {"email": {"concurency": 5, "processor": "no.such.module"},
                                     "a:b": {}}}
    found = problems()
    assert any("unknown key 'PREFX'; did you mean 'PREFIX'?" in p for p in found)
    assert any("'attemps'" in p and "did you mean 'attempts'" in p for p in found)
    assert any("unknown key 'concurency'; did you mean 'concurrency'?" in p for p in found)
    assert any("cannot import 'no.such.module'" in p for p in found)
    assert any("may not contain ':'" in p for p in found)
    errors = check_settings()
    assert [e.id for e in errors] == [f"queuecore.E{i:03d}" for i in range(1, len(found) + 1)]


def test_good_settings_pass(settings: Any) -> None:
    settings.QUEUECORE = {"REDIS_URL": "redis://x", "PREFIX": "bull",
                          "QUEUES": {"email": {"concurrency": 5,
                                               "processor": "tests.runworker_jobs.echo"}}}
    assert problems() == []


def test_get_queue_uses_settings(settings: Any, redis_url: str, monkeypatch: Any) -> None:
    monkeypatch.delenv("QUEUECORE_REDIS_URL", raising=False)
    monkeypatch.delenv("QUEUECORE_PREFIX", raising=False)
    settings.QUEUECORE = {"REDIS_URL": redis_url, "PREFIX": "gq",
                          "DEFAULT_JOB_OPTIONS": {"attempts": 2},
                          "QUEUES": {"mail": {"default_job_options": {"priority": 3}}}}
    queue = get_queue("mail")
    assert queue.keys.prefix == "gq"
    job = queue.add("x")
    assert job.opts == {"attempts": 2, "priority": 3}
    queue.obliterate()


@pytest.fixture
def clean_registry() -> Any:
    saved = dict(registry._registry)
    registry.clear()
    yield
    registry._registry.clear()
    registry._registry.update(saved)


def test_processor_by_job_name_and_unknown_names_fail(clean_registry: None, queue: Queue,
                                                      redis_url: str, run_worker: Any) -> None:
    @processor(queue.name, name="send-email")
    async def send(job: Job) -> str:
        return "sent"

    @processor(queue.name, name="resize")
    def resize(job: Job) -> str:  # a plain def too
        return "resized"

    with pytest.raises(ValueError, match="already have a processor"):
        processor(queue.name, name="resize")(send)
    dispatch = registry.dispatcher(queue.name, registry.processors_for(queue.name))
    a, b, c = queue.add("send-email"), queue.add("resize"), queue.add("mystery")
    run_worker(Worker(queue.name, dispatch, connection=redis_url))
    wait_for(lambda: c.get_state() == "failed" and b.get_state() == "completed", 10)
    assert queue.get_job(a.id).returnvalue == "sent"  # type: ignore[union-attr]
    assert queue.get_job(b.id).returnvalue == "resized"  # type: ignore[union-attr]
    reason = queue.get_job(c.id).failed_reason  # type: ignore[union-attr]
    assert reason == (f"no processor for jobs named 'mystery' in queue {queue.name!r} "
                      "(known: resize, send-email)")
