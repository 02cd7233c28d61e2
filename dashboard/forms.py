"""The inputs of the dashboard's actions, one form each. A form refuses with
the specific reason the page shows (``first_error``), and the action runs only
on cleaned data, so bad input changes nothing.

The fields are plain ``forms.Field`` subclasses rather than Django's
IntegerField or CharField: those accept "1.0" as 1 and refuse NUL
characters with messages of their own, where the dashboard keeps its own
wording and takes text as queuecore does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from .access import PARENT_REFUSED, ParentRefused, checked_parent
from .conf import dashboard_settings
from .queues import get_queue

CLEAN_STATES = ("completed", "failed", "delayed", "wait", "prioritized")
RETRY_STATES = ("failed", "completed")
MAX_SELECTED = 500  # more than a page holds; Django refuses over 1,000 fields anyway
REASON_CHARS = 200


def first_error(form: forms.Form) -> str | None:
    """The message of the first refusal in field order, then the whole-form
    ones; None when the form is valid."""
    if form.is_valid():
        return None
    for errors in form.errors.as_data().values():
        return errors[0].messages[0]
    return None


class Text(forms.Field):
    """Text as typed, stripped unless ``strip=False``; a missing field is
    ``default`` (an empty one is not)."""

    def __init__(self, *, strip: bool = True, default: str = "", **kwargs: Any) -> None:
        self.strip, self.default = strip, default
        super().__init__(required=False, **kwargs)

    def to_python(self, value: Any) -> str:
        if value is None:
            return self.default
        text = str(value)
        return text.strip() if self.strip else text


class WholeNumber(Text):
    """A whole number as Python's ``int`` reads it. Left empty, it is
    ``default`` if one is given, None if ``optional``, else refused."""

    def __init__(self, what: str, *, default: int | None = None, optional: bool = False,
                 minimum: int | None = None, strip: bool = False) -> None:
        super().__init__(strip=strip)
        self.what, self.default, self.minimum = what, default, minimum  # type: ignore[assignment]
        self.optional = optional or default is not None

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        raw = "" if value is None else super().to_python(value)  # missing is as empty
        if raw == "" and self.optional:
            return self.default
        try:
            number = int(raw)
        except ValueError:
            raise ValidationError(f"{self.what} must be a whole number, not {raw!r}",
                                  code="invalid") from None
        if self.minimum is not None and number < self.minimum:
            raise ValidationError(f"{self.what} must be at least {self.minimum}", code="min")
        return number


class Flag(Text):
    """A checkbox sent as value "1"."""

    def to_python(self, value: Any) -> bool:  # type: ignore[override]
        return super().to_python(value) == "1"


class IdList(forms.Field):
    """Every value of a repeated field, stripped, blanks and repeats dropped."""

    widget = forms.MultipleHiddenInput

    def __init__(self) -> None:
        super().__init__(required=False)

    def to_python(self, value: Any) -> list[str]:
        values = value if isinstance(value, list | tuple) else [] if value is None else [value]
        return list(dict.fromkeys(text for v in values if (text := str(v).strip())))


def parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        detail = f"{exc.msg} at line {exc.lineno}, column {exc.colno}" \
            if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ValidationError(f"{what} is not valid JSON: {detail}", code="json") from None


class BackForm(forms.Form):
    """Where the action returns: ``next`` if it is an address of this site,
    else "" (the caller's default)."""

    next = Text(strip=False)

    def __init__(self, data: Any, *, host: str, **kwargs: Any) -> None:
        self.host = host
        super().__init__(data, **kwargs)

    def clean_next(self) -> str:
        back = self.cleaned_data["next"]
        if back and url_has_allowed_host_and_scheme(back, allowed_hosts={self.host}):
            return back
        return ""


def back_to(request: HttpRequest, default: str) -> str:
    """The safe ``next`` of an action's POST, else ``default``."""
    form = BackForm(request.POST, host=request.get_host())
    form.is_valid()  # never refuses: an unsafe next is dropped
    return form.cleaned_data["next"] or default


# -- queue actions


class RetryAllForm(forms.Form):
    state = Text(strip=False, default="failed")  # an empty one is refused, as before the forms

    def clean_state(self) -> str:
        state = self.cleaned_data["state"]
        if state not in RETRY_STATES:
            raise ValidationError("retry-all works on failed or completed jobs")
        return state


class CleanForm(forms.Form):
    state = Text(strip=False, default="completed")  # an empty one is refused
    grace = WholeNumber("grace", default=0, minimum=0)
    limit = WholeNumber("limit", default=0, minimum=0)

    def clean_state(self) -> str:
        state = self.cleaned_data["state"]
        if state not in CLEAN_STATES:
            raise ValidationError(
                f"cannot clean {state!r}; choose one of {', '.join(CLEAN_STATES)}")
        return state


class DrainForm(forms.Form):
    delayed = Flag()


class ObliterateForm(forms.Form):
    """Typing the queue's name is the confirmation."""

    confirm = Text(strip=False)
    force = Flag()

    def __init__(self, data: Any, *, queue_name: str, **kwargs: Any) -> None:
        self.queue_name = queue_name
        super().__init__(data, **kwargs)

    def clean_confirm(self) -> str:
        if self.cleaned_data["confirm"] != self.queue_name:
            raise ValidationError(f"type the queue's name ({self.queue_name}) to obliterate it")
        return self.cleaned_data["confirm"]


# -- job actions


class CancelForm(forms.Form):
    reason = Text()

    def clean_reason(self) -> str:
        return self.cleaned_data["reason"][:REASON_CHARS]


class EditDataForm(forms.Form):
    data = Text(strip=False)

    def clean_data(self) -> Any:
        try:
            return json.loads(self.cleaned_data["data"])
        except ValueError as exc:
            raise ValidationError(f"data must be valid JSON: {exc}") from None


class ChangeDelayForm(forms.Form):
    delay = WholeNumber("delay", minimum=0)


class ChangePriorityForm(forms.Form):
    priority = WholeNumber("priority", minimum=0)


# -- adding a job


class AddJobForm(forms.Form):
    """Name, data and options of a new job; ``cleaned_data["options"]`` holds
    the options JSON merged with the simple fields, in Python names. queuecore
    checks the options themselves when the job is added.

    A ``parent`` is checked here, for the user: a job in a queue they may add
    to (a hidden queue answers as a missing one)."""

    name = Text()
    data = Text()
    options = Text()
    delay = WholeNumber("delay", optional=True, strip=True)
    priority = WholeNumber("priority", optional=True, strip=True)
    attempts = WholeNumber("attempts", optional=True, strip=True)
    job_id = Text()

    def __init__(self, data: Any = None, *, user: Any = None, **kwargs: Any) -> None:
        self.user = user
        super().__init__(data, **kwargs)

    def typed(self) -> dict[str, str]:
        """What was typed in each field, to give the form back with."""
        return {name: str(self.data.get(name, "")) for name in self.fields}

    def clean_name(self) -> str:
        if not self.cleaned_data["name"]:
            raise ValidationError("the job needs a name")
        return self.cleaned_data["name"]

    def clean_data(self) -> Any:
        text = self.cleaned_data["data"]
        return parse_json(text, "data") if text else {}

    def clean_options(self) -> dict[str, Any]:
        text = self.cleaned_data["options"]
        options = parse_json(text, "options") if text else {}
        if not isinstance(options, dict):
            kind = type(options).__name__ if options is not None else "null"
            raise ValidationError('options must be a JSON object such as {"attempts": 3}, '
                                  f"not {kind}")
        return options

    def _merge(self, field: str) -> Any:
        """A simple field goes into the options, unless they already name it."""
        value = self.cleaned_data[field]
        options = self.cleaned_data.get("options")
        if value is not None and options is not None:
            if field in options:
                raise ValidationError(f"{field} is given both as a field and in the options JSON")
            options[field] = value
        return value

    def clean_delay(self) -> Any:
        return self._merge("delay")

    def clean_priority(self) -> Any:
        return self._merge("priority")

    def clean_attempts(self) -> Any:
        return self._merge("attempts")

    def clean_job_id(self) -> str | None:
        if not self.cleaned_data["job_id"]:
            return None
        return self._merge("job_id")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors and "parent" in cleaned["options"]:
            self._check_parent(cleaned["options"]["parent"])
        return cleaned

    def _check_parent(self, parent: Any) -> None:
        try:
            target = checked_parent(self.user, parent)
        except ParentRefused:
            raise ValidationError(PARENT_REFUSED) from None
        if target is None:
            return  # not a job's name at all: queuecore says what a parent looks like
        parent_id = parent.get("id")
        if isinstance(parent_id, str) and get_queue(dashboard_settings(), target).get_job(
                parent_id) is None:
            raise ValidationError(f"parent: no job {parent_id!r} in queue {target!r}")


# -- selected jobs, schedulers


class BulkForm(forms.Form):
    ids = IdList()

    def clean_ids(self) -> list[str]:
        ids = self.cleaned_data["ids"]
        if not ids:
            raise ValidationError("select at least one job first")
        if len(ids) > MAX_SELECTED:
            raise ValidationError(f"select at most {MAX_SELECTED} jobs at a time, not {len(ids)}")
        return ids


class SchedulerEditForm(forms.Form):
    """The repeat options of a scheduler, cleaned to what
    ``upsert_job_scheduler`` takes: only the fields filled in."""

    pattern = Text()
    every = WholeNumber("every", optional=True, strip=True)
    tz = Text()
    limit = WholeNumber("limit", optional=True, strip=True)
    end_date = Text()

    def clean_end_date(self) -> datetime | None:
        end = self.cleaned_data["end_date"]
        if not end:
            return None
        try:
            return datetime.fromisoformat(end).replace(tzinfo=UTC)
        except ValueError:
            raise ValidationError(f"end date must be a date and time, not {end!r}") from None

    def clean(self) -> dict[str, Any]:
        return {name: value for name, value in (super().clean() or {}).items()
                if value is not None and value != ""}
