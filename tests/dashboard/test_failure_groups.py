"""Failures grouped by cause on the failed tab, and the group actions, over
jobs that really failed in a worker."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from django.test import Client

from dashboard import failures
from dashboard.models import AuditEntry
from queuecore import Queue
from tests.dashboard.failing import cards, make_failures, timeouts

pytestmark = pytest.mark.django_db


def test_normalise_keeps_words_and_drops_values() -> None:
    assert failures.normalise('card 4242 declined for order "A-17"') == \
        "card <n> declined for order <str>"
    assert failures.normalise("user 3f2b9c1e-0a4d-4e7b-9c1a-2b3c4d5e6f70 at 0x7f3a2c") == \
        "user <id> at <id>"
    assert failures.normalise("job deadbeef42 failed after 1.5 s") == "job <id> failed after <n> s"
    assert failures.normalise("handler2 got utf8 from v2 after 40ms") == \
        "handler2 got utf8 from v2 after <n>ms"
    assert failures.signature("bad 'x'\nmore", "app/v2.py:12 in pay3") == (
        "bad <str>", "app/v2.py:<n> in pay3")
    assert failures.normalise_frame("charge (/srv/pay.js:10:7)") == "charge (/srv/pay.js:<n>)"


def test_groups_by_reason_and_top_frame(queue: Queue, redis_url: str) -> None:
    card_ids = make_failures(queue, redis_url, cards(4))
    timeout_ids = make_failures(queue, redis_url, timeouts(2))
    grouping = failures.group_failures(queue)
    assert (grouping.scanned, grouping.total, grouping.capped) == (6, 6, False)
    cards_group, timeout_group = grouping.groups
    assert cards_group.count == 4 and sorted(cards_group.job_ids) == sorted(card_ids)
    assert cards_group.reason == "card <n> declined for order <str>"
    assert cards_group.frame.endswith("failing.py:<n> in card_declined")
    assert timeout_group.count == 2 and sorted(timeout_group.job_ids) == sorted(timeout_ids)
    assert timeout_group.frame.endswith("in gateway_timeout")
    assert cards_group.first_seen <= cards_group.last_seen
    assert len(cards_group.samples) == 4


def test_scan_is_capped_and_says_so(queue: Queue, redis_url: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    make_failures(queue, redis_url, cards(7))
    monkeypatch.setattr(failures, "PAGE", 2)  # several pages, the last one partial
    grouping = failures.group_failures(queue, limit=5)
    assert (grouping.scanned, grouping.total, grouping.capped) == (5, 7, True)
    assert grouping.groups[0].count == 5


def test_failed_tab_shows_the_groups(operator: Client, queue: Queue, redis_url: str) -> None:
    make_failures(queue, redis_url, [*cards(3), *timeouts(1)])
    tab = operator.get(f"/admin/queues/{queue.name}/?state=failed").content.decode()
    assert f'hx-get="/admin/queues/{queue.name}/failures/' in tab
    assert "failures/" not in operator.get(f"/admin/queues/{queue.name}/?state=waiting"
                                           ).content.decode()
    part = operator.get(f"/admin/queues/{queue.name}/failures/").content.decode()
    assert "all 4 failed job(s) grouped" in part
    assert "card &lt;n&gt; declined for order &lt;str&gt;" in part
    assert "Retry group" in part and "Clean group" in part
    assert part.index('data-count="3"') < part.index('data-count="1"')


def test_retry_group_acts_on_exactly_that_group(operator: Client, queue: Queue,
                                                redis_url: str) -> None:
    card_ids = make_failures(queue, redis_url, cards(3))
    timeout_ids = make_failures(queue, redis_url, timeouts(2))
    key = failures.group_failures(queue).groups[0].key
    response = operator.post(f"/admin/queues/{queue.name}/failures/{key}/actions/retry-group/",
                             follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Retried 3 failed job(s) of the group “card <n> declined for order <str>”."]
    assert {queue.get_job(i).get_state() for i in card_ids} == {"waiting"}
    assert {queue.get_job(i).get_state() for i in timeout_ids} == {"failed"}
    entry = AuditEntry.objects.get()
    assert entry.action == "retry-group" and sorted(entry.job_ids) == sorted(card_ids)
    again = operator.post(f"/admin/queues/{queue.name}/failures/{key}/actions/retry-group/",
                          follow=True)
    assert "no failed job has this cause any more" in again.content.decode()


def test_clean_group_rechecks_each_job_before_removing(queue: Queue, redis_url: str,
                                                       r: redis.Redis,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    card_ids = make_failures(queue, redis_url, cards(3))
    key = failures.group_failures(queue).groups[0].key
    real = failures.group_failures

    def then_change(q: Queue, limit: int = failures.SCAN_LIMIT) -> Any:
        grouping = real(q, limit)
        # between computing the group and acting: one job is retried, one fails
        # again for another reason
        queue.get_job(card_ids[0]).retry("failed")
        r.hset(queue.keys.job(card_ids[1]), "failedReason", "something else entirely")
        return grouping

    monkeypatch.setattr(failures, "group_failures", then_change)
    group, result = failures.act_on_group(queue, key, "clean-group")
    assert result.done == [card_ids[2]] and result.changed == 2
    assert queue.get_job(card_ids[2]) is None
    assert queue.get_job(card_ids[0]).get_state() == "waiting"
    assert queue.get_job(card_ids[1]).get_state() == "failed"
    assert "Skipped: 2 no longer failed with this cause" in failures.report(
        "clean-group", group, result)


def test_group_actions_need_post_and_permission(viewer: Client, operator: Client,
                                                queue: Queue, redis_url: str) -> None:
    make_failures(queue, redis_url, cards(1))
    key = failures.group_failures(queue).groups[0].key
    url = f"/admin/queues/{queue.name}/failures/{key}/actions/clean-group/"
    assert viewer.post(url).status_code == 403
    assert operator.get(url).status_code == 405
    bogus = operator.post(f"/admin/queues/{queue.name}/failures/{key}/actions/nuke/",
                          follow=True)
    assert "unknown action" in bogus.content.decode()
    assert queue.get_job_counts("failed")["failed"] == 1
    viewer_part = viewer.get(f"/admin/queues/{queue.name}/failures/").content.decode()
    assert "Retry group" not in viewer_part and "Clean group" not in viewer_part


def test_top_frame_of_long_python_and_of_node_traces(queue: Queue, redis_url: str,
                                                     r: redis.Redis) -> None:
    import json

    long_id, node_id = make_failures(queue, redis_url, cards(2))
    frames = "".join(f'  File "/srv/lib{i}.py", line {i}, in step{i}\n    step()\n'
                     for i in range(200))  # the innermost frame far from the start
    python = (f"Traceback (most recent call last):\n{frames}"
              f'  File "/srv/pay.py", line 7, in charge\n    x()\nValueError: {"y" * 5000}\n')
    node = "Error: card declined\n    at charge (/srv/pay.js:10:7)\n    at run (/srv/w.js:1:1)"
    r.hset(queue.keys.job(long_id), "stacktrace", json.dumps(["old", python]))
    r.hset(queue.keys.job(node_id), "stacktrace", json.dumps(["old", node]))
    frames_read = {job["id"]: job["top_frame"] for job in failures.read_failed(queue)}
    assert frames_read[long_id] == "/srv/pay.py:7 in charge"
    assert frames_read[node_id] == "charge (/srv/pay.js:10:7)"
