"""Search and export match only what the user is shown: a value a FORMATTER
masks, or a hidden queue's name in a failure reason, cannot be read back by
probing with searches one character at a time."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from queuecore import Queue
from queuecore.search import make_query, search_jobs
from tests.dashboard.test_consumers import connect
from tests.dashboard.test_export import fetch, mask_card
from tests.dashboard.test_hidden_queues import fail_by_hidden_child
from tests.dashboard.test_permissions import _team, client_for, make_user, two_queues
from tests.dashboard.test_search import read_all

__all__ = ["mask_card", "two_queues"]  # the formatter (by dotted path) and a fixture

pytestmark = pytest.mark.django_db(transaction=True)

CARD = "4111111111111111"
FORMATTER = "tests.dashboard.test_search_shown.mask_card"


def _exported(client: Client, queue: Queue, kind: str, text: str) -> list[str]:
    """The ids a search export gives (what an attacker would read)."""
    from urllib.parse import urlencode

    query = urlencode({"kind": kind, "q": text, "format": "jsonl"})
    _, pieces = fetch(client, f"/admin/queues/{queue.name}/export/?{query}")
    return [json.loads(line)["id"] for line in b"".join(pieces).decode().splitlines()]


def _probe(found: Any, known: str, alphabet: str, length: int) -> str:
    """Reads a hidden value one character at a time, as an attacker would:
    the longest text after ``known`` that still finds the job."""
    read = ""
    for _ in range(length):
        for char in alphabet:
            if found(known + read + char):
                read += char
                break
        else:
            return read
    return read


def test_a_masked_value_cannot_be_read_back_by_searching(viewer: Client, queue: Queue,
                                                         settings: Any) -> None:
    settings.QUEUECORE_DASHBOARD = {**settings.QUEUECORE_DASHBOARD, "FORMATTER": FORMATTER}
    job = queue.add("pay", {"card": CARD, "amount": 5}).id
    read = _probe(lambda text: job in _exported(viewer, queue, "data", text),
                  '"card":"', string.digits, len(CARD))
    assert read == ""  # not even its first digit
    assert _exported(viewer, queue, "data", f"card={CARD}") == []
    assert _exported(viewer, queue, "data", "card=4*") == []
    # what the page shows is found, by key=value and by text
    assert _exported(viewer, queue, "data", "card=**** 1111") == [job]
    assert _exported(viewer, queue, "data", "**** 1111") == [job]
    assert _exported(viewer, queue, "data", "amount=5") == [job]


def test_the_search_socket_matches_the_formatted_data(queue: Queue, settings: Any,
                                                      django_user_model: Any) -> None:
    settings.QUEUECORE_DASHBOARD = {**settings.QUEUECORE_DASHBOARD, "FORMATTER": FORMATTER}
    job = queue.add("pay", {"card": CARD}).id
    user = make_user(django_user_model)

    def rows(text: str) -> str:
        from urllib.parse import quote

        async def scenario() -> list[str]:
            communicator, connected, _ = await connect(
                f"/ws/queues/{queue.name}/search/?kind=data&q={quote(text)}", user)
            assert connected
            return await read_all(communicator)

        return "".join(async_to_sync(scenario)())

    assert f'id="job-{job}"' not in rows(f"card={CARD}")
    assert f'id="job-{job}"' not in rows(CARD[:6])
    found = rows("card=**** 1111")
    assert f'id="job-{job}"' in found and "1 found" in found


def test_a_hidden_queue_name_in_a_reason_cannot_be_probed(
        two_queues: tuple[Queue, Queue], redis_url: str, run_worker: Any,
        django_user_model: Any) -> None:
    mine, hidden = two_queues
    parent = fail_by_hidden_child(mine, hidden, redis_url, run_worker)
    client = client_for(make_user(django_user_model, groups=(_team(mine.name, False),)))
    read = _probe(lambda text: parent in _exported(client, mine, "reason", text),
                  "child bull:", string.ascii_lowercase + string.digits + "-", 8)
    assert read == ""
    assert _exported(client, mine, "reason", hidden.name) == []
    assert _exported(client, mine, "reason", "child") == [parent]  # what it sees is found
    free = client_for(make_user(django_user_model))
    assert _exported(free, mine, "reason", hidden.name) == [parent]


# -- the Python match is the Lua one ----------------------------------------------

_keys = st.sampled_from(["a", "b", "id", "0", "1", "x-y"])
_scalars = (st.none() | st.booleans() | st.integers(-1000, 1000)
            | st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 3))
            | st.text("ab1 .-=\"\\é", max_size=6))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(_keys, inner, max_size=3), max_leaves=8)


@settings(max_examples=40)
@given(data=st.dictionaries(_keys, _values, max_size=4),
       path=st.lists(_keys, min_size=1, max_size=3).map(".".join),
       value=st.sampled_from(["1", "1.5", "true", "false", "null", "a", "ab", "0", "-3", "é"])
       | st.text("ab1.-", max_size=3),
       substring=st.text("ab1:,{}[]\"é", min_size=1, max_size=4))
def test_python_matches_as_lua_does(queue: Queue, data: dict[str, Any], path: str,
                                    value: str, substring: str) -> None:
    job = queue.add("j", data).id
    try:
        for text in (f"{path}={value}", substring):
            query = make_query("data", text)
            lua = any(j.id == job for p in search_jobs(queue, "data", text) for j, _ in p.jobs)
            assert query.matches_value(data) == lua, (text, data)
    finally:
        queue.remove(job)
