"""The action forms: each refusal with its message, free text never raising
(Hypothesis), and through the views a refused input that changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django import forms
from django.test import Client
from django.utils.datastructures import MultiValueDict
from django.utils.http import url_has_allowed_host_and_scheme
from hypothesis import given
from hypothesis import strategies as st

from dashboard.forms import (
    CLEAN_STATES,
    MAX_SELECTED,
    AddJobForm,
    BackForm,
    BulkForm,
    CancelForm,
    ChangeDelayForm,
    ChangePriorityForm,
    CleanForm,
    DrainForm,
    EditDataForm,
    ObliterateForm,
    RetryAllForm,
    SchedulerEditForm,
    first_error,
)
from queuecore import Queue

HOST = "testserver"


def error_of(form_class: type[forms.Form], data: Any, **kwargs: Any) -> str | None:
    return first_error(form_class(data, **kwargs))


def cleaned(form_class: type[forms.Form], data: Any, **kwargs: Any) -> dict[str, Any]:
    form = form_class(data, **kwargs)
    assert first_error(form) is None
    return form.cleaned_data


@pytest.mark.parametrize(("form_class", "data", "kwargs", "error"), [
    (RetryAllForm, {"state": "active"}, {}, "retry-all works on failed or completed jobs"),
    (RetryAllForm, {"state": ""}, {}, "retry-all works on failed or completed jobs"),
    (CleanForm, {"state": "active"}, {},
     "cannot clean 'active'; choose one of completed, failed, delayed, wait, prioritized"),
    (CleanForm, {"grace": "soon"}, {}, "grace must be a whole number, not 'soon'"),
    (CleanForm, {"grace": "-1"}, {}, "grace must be at least 0"),
    (CleanForm, {"limit": "1.5"}, {}, "limit must be a whole number, not '1.5'"),
    (ObliterateForm, {"confirm": "other"}, {"queue_name": "mail"},
     "type the queue's name (mail) to obliterate it"),
    (ObliterateForm, {}, {"queue_name": "mail"}, "type the queue's name (mail) to obliterate it"),
    (EditDataForm, {"data": "{oops"}, {},
     "data must be valid JSON: Expecting property name enclosed in double quotes: "
     "line 1 column 2 (char 1)"),
    (EditDataForm, {}, {}, "data must be valid JSON: Expecting value: line 1 column 1 (char 0)"),
    (ChangeDelayForm, {}, {}, "delay must be a whole number, not ''"),
    (ChangeDelayForm, {"delay": "-5"}, {}, "delay must be at least 0"),
    (ChangePriorityForm, {"priority": "high"}, {}, "priority must be a whole number, not 'high'"),
    (AddJobForm, {"name": "  "}, {}, "the job needs a name"),
    (AddJobForm, {"name": "n", "data": "[1,"}, {},
     "data is not valid JSON: Expecting value at line 1, column 4"),
    (AddJobForm, {"name": "n", "options": "null"}, {},
     'options must be a JSON object such as {"attempts": 3}, not null'),
    (AddJobForm, {"name": "n", "options": "[1]"}, {},
     'options must be a JSON object such as {"attempts": 3}, not list'),
    (AddJobForm, {"name": "n", "attempts": "x"}, {}, "attempts must be a whole number, not 'x'"),
    (AddJobForm, {"name": "n", "priority": "2", "options": '{"priority": 1}'}, {},
     "priority is given both as a field and in the options JSON"),
    (AddJobForm, {"name": "n", "job_id": "a", "options": '{"job_id": "b"}'}, {},
     "job_id is given both as a field and in the options JSON"),
    (BulkForm, MultiValueDict({"ids": [" ", ""]}), {}, "select at least one job first"),
    (BulkForm, {}, {}, "select at least one job first"),
    (BulkForm, MultiValueDict({"ids": [str(i) for i in range(MAX_SELECTED + 1)]}), {},
     f"select at most {MAX_SELECTED} jobs at a time, not {MAX_SELECTED + 1}"),
    (SchedulerEditForm, {"every": "often"}, {}, "every must be a whole number, not 'often'"),
    (SchedulerEditForm, {"limit": "ten"}, {}, "limit must be a whole number, not 'ten'"),
    (SchedulerEditForm, {"end_date": "tomorrow"}, {},
     "end date must be a date and time, not 'tomorrow'"),
])
def test_each_refusal_names_the_problem(form_class: type[forms.Form], data: Any,
                                        kwargs: dict[str, Any], error: str) -> None:
    assert error_of(form_class, data, **kwargs) == error


def test_the_first_problem_is_the_one_named() -> None:
    # field order: a bad data JSON is named before a bad number further down
    assert error_of(AddJobForm, {"name": "", "data": "{", "delay": "x"}) == "the job needs a name"
    assert error_of(AddJobForm, {"name": "n", "data": "{", "delay": "x"}).startswith("data ")
    assert error_of(CleanForm, {"state": "x", "grace": "y"}).startswith("cannot clean")


def test_valid_input_is_cleaned_to_what_the_action_takes() -> None:
    form = AddJobForm({"name": " welcome ", "data": ' {"to": 1} ', "delay": " 5 ",
                       "job_id": " j1 ", "options": '{"attempts": 2}'})
    assert form.is_valid()
    assert form.cleaned_data["name"] == "welcome" and form.cleaned_data["data"] == {"to": 1}
    assert form.cleaned_data["options"] == {"attempts": 2, "delay": 5, "job_id": "j1"}
    assert cleaned(AddJobForm, {"name": "n"})["options"] == {}
    assert cleaned(RetryAllForm, {})["state"] == "failed"
    assert cleaned(CleanForm, {}) == {"state": "completed", "grace": 0, "limit": 0}
    assert cleaned(DrainForm, {"delayed": "1"})["delayed"] is True
    assert cleaned(DrainForm, {})["delayed"] is False
    assert cleaned(ObliterateForm, {"confirm": "mail", "force": "1"}, queue_name="mail") == {
        "confirm": "mail", "force": True}
    cancel = CancelForm({"reason": "  " + "r" * 300})
    assert cancel.is_valid() and cancel.cleaned_data["reason"] == "r" * 200
    edit = SchedulerEditForm({"pattern": " 0 3 * * * ", "tz": " ", "every": "", "limit": "4",
                              "end_date": "2030-01-02T03:04"})
    assert edit.is_valid()
    assert list(edit.cleaned_data) == ["pattern", "limit", "end_date"]
    assert edit.cleaned_data["end_date"].isoformat() == "2030-01-02T03:04:00+00:00"
    bulk = BulkForm(MultiValueDict({"ids": [" 2", "1", "2 ", ""]}))
    assert bulk.is_valid() and bulk.cleaned_data["ids"] == ["2", "1"]


@pytest.mark.parametrize(("back", "kept"), [
    ("/admin/queues/q/?state=failed", True), ("", False), ("https://evil.example/", False),
    ("//evil.example/x", False), ("javascript:alert(1)", False), ("http://testserver/x", True),
])
def test_next_is_kept_only_on_this_site(back: str, kept: bool) -> None:
    form = BackForm({"next": back}, host=HOST)
    assert form.is_valid() and form.cleaned_data["next"] == (back if kept else "")


# -- free text: a refusal with the message, or the value, never an exception

text = st.text(max_size=40)


@given(raw=st.one_of(text, st.integers().map(str), st.from_regex(r"\s*-?\d{1,6}\s*")))
def test_any_number_field_text_is_an_int_or_its_message(raw: str) -> None:
    form = ChangeDelayForm({"delay": raw})
    try:
        expected: int | None = int(raw)
    except ValueError:
        expected = None
    if expected is None:
        assert first_error(form) == f"delay must be a whole number, not {raw!r}"
    elif expected < 0:
        assert first_error(form) == "delay must be at least 0"
    else:
        assert first_error(form) is None and form.cleaned_data["delay"] == expected


json_like = st.one_of(text, st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6).map(json.dumps))


@given(data=json_like, options=json_like)
def test_any_data_and_options_text_is_json_or_its_message(data: str, options: str) -> None:
    form = AddJobForm({"name": "n", "data": data, "options": options})
    error = first_error(form)
    try:
        parsed_data = json.loads(data) if data.strip() else {}
    except ValueError:
        assert error is not None and error.startswith("data is not valid JSON: ")
        return
    try:
        parsed_options = json.loads(options) if options.strip() else {}
    except ValueError:
        assert error is not None and error.startswith("options is not valid JSON: ")
        return
    if not isinstance(parsed_options, dict):
        assert error is not None and error.startswith("options must be a JSON object")
    elif "parent" not in parsed_options:
        assert error is None and form.cleaned_data["data"] == parsed_data


@given(ids=st.lists(text, max_size=20))
def test_any_selection_is_its_ids_once_each_or_refused(ids: list[str]) -> None:
    form = BulkForm(MultiValueDict({"ids": ids}))
    wanted = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
    if wanted:
        assert first_error(form) is None and form.cleaned_data["ids"] == wanted
    else:
        assert first_error(form) == "select at least one job first"


@given(back=st.one_of(text, st.sampled_from(["/", "//", "http://", "https://testserver"]).flatmap(
    lambda start: text.map(lambda rest: start + rest))))
def test_any_next_is_this_site_or_dropped(back: str) -> None:
    form = BackForm({"next": back}, host=HOST)
    assert form.is_valid()
    kept = form.cleaned_data["next"]
    assert kept in ("", back)
    assert kept == "" or url_has_allowed_host_and_scheme(kept, allowed_hosts={HOST})


@given(state=text, end=text)
def test_any_state_and_end_date_text_is_taken_or_refused(state: str, end: str) -> None:
    assert (first_error(CleanForm({"state": state})) is None) == (state in CLEAN_STATES)
    error = first_error(SchedulerEditForm({"end_date": end}))
    assert error is None or error == f"end date must be a date and time, not {end.strip()!r}"


# -- through the views: a refused input changes nothing



@pytest.mark.django_db
@pytest.mark.parametrize(("action", "data", "error"), [
    ("change-delay", {"delay": "soon"}, "delay must be a whole number, not &#x27;soon&#x27;"),
    ("change-delay", {"delay": "-1"}, "delay must be at least 0"),
    ("change-priority", {"priority": ""}, "priority must be a whole number"),
    ("edit-data", {"data": "{"}, "data must be valid JSON"),
])
def test_a_refused_job_action_changes_nothing(operator: Client, queue: Queue, action: str,
                                              data: dict[str, str], error: str) -> None:
    job = queue.add("d", {"v": 1}, delay=60_000)
    before = queue.get_job(job.id)
    response = operator.post(f"/admin/queues/{queue.name}/jobs/{job.id}/actions/{action}/",
                             data, follow=True)
    assert error in response.content.decode()
    after = queue.get_job(job.id)
    assert after is not None and before is not None
    assert (after.data, after.delay, after.priority, after.get_state()) == (
        before.data, before.delay, before.priority, "delayed")


@pytest.mark.django_db
@pytest.mark.parametrize("data", [{"state": "wait", "grace": "-1"},
                                  {"state": "wait", "limit": "many"}, {"state": ""}])
def test_a_refused_clean_removes_nothing(operator: Client, queue: Queue,
                                         data: dict[str, str]) -> None:
    ids = [queue.add("w").id for _ in range(3)]
    operator.post(f"/admin/queues/{queue.name}/actions/clean/", data)
    assert all(queue.get_job(i) is not None for i in ids)


@pytest.mark.django_db
def test_a_refused_scheduler_edit_keeps_the_schedule(operator: Client, queue: Queue) -> None:
    queue.upsert_job_scheduler("tick", {"every": 60_000}, {"name": "tick"})
    response = operator.post(f"/admin/queues/{queue.name}/schedulers/tick/actions/edit/",
                             {"every": "1000", "end_date": "soon"}, follow=True)
    assert "end date must be a date and time, not &#x27;soon&#x27;" in response.content.decode()
    assert queue.get_job_scheduler("tick").every == 60_000  # type: ignore[union-attr]
