"""One gate for every dashboard view: a logged-in staff user with the
dashboard's permission, no caching, CSRF on actions (Django's middleware).

Who may do what, where:

* ``dashboard.view_queues`` lets a staff user in; ``dashboard.operate_queues``
  grants every action; ``dashboard.retry_jobs`` etc. grant one kind of action
  each (see ``ACTION_KINDS``). Superusers hold them all; READ_ONLY turns every
  action off.
* ``QueueAccess`` rules limit the queues: a user none of whose groups has a
  rule sees every queue; otherwise only the queues their groups' patterns
  match, and acts only on those matched by a rule with ``can_operate``. A
  queue a user may not see is a 404 everywhere, so its name does not leak.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase
from functools import cache, wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache

from .conf import dashboard_settings
from .rendering import NO_QUEUE, not_found

VIEW = "dashboard.view_queues"
OPERATE = "dashboard.operate_queues"

# kind of action -> the permission that grants it (operate_queues grants all)
ACTION_KINDS = {
    "retry": "dashboard.retry_jobs",
    "promote": "dashboard.promote_jobs",
    "remove": "dashboard.remove_jobs",
    "clean": "dashboard.clean_queues",
    "pause": "dashboard.pause_queues",
    "drain": "dashboard.drain_queues",
    "obliterate": "dashboard.obliterate_queues",
    "edit": "dashboard.edit_jobs",
    "add": "dashboard.add_jobs",
    "cancel": "dashboard.cancel_jobs",
}
# the actions in URLs -> their kind; an action not listed needs operate_queues
KIND_OF = {
    "pause": "pause", "resume": "pause", "retry-all": "retry", "promote-all": "promote",
    "clean": "clean", "drain": "drain", "obliterate": "obliterate",
    "retry": "retry", "promote": "promote", "remove": "remove", "duplicate": "add",
    "edit-data": "edit", "change-delay": "edit", "change-priority": "edit", "add": "add",
    "retry-group": "retry", "clean-group": "clean", "cancel": "cancel",
    "edit": "edit",  # a job scheduler's schedule
}
BULK_KINDS = ("retry", "remove", "promote")


def may_view(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff
                and user.has_perm(VIEW))


def queue_rules(user: Any) -> list[tuple[str, bool]] | None:
    """The (pattern, can_operate) rules of the user's groups; None: not limited.
    Cached on the user object, like Django's permission cache."""
    if user.is_superuser:
        return None
    if not hasattr(user, "_queue_rules_cache"):
        from .models import QueueAccess  # models import after apps are ready

        rules = list(QueueAccess.objects.filter(group__in=user.groups.all())
                     .values_list("pattern", "can_operate"))
        user._queue_rules_cache = rules or None
    return user._queue_rules_cache


def may_see_queue(user: Any, name: str) -> bool:
    if not may_view(user):
        return False
    rules = queue_rules(user)
    return rules is None or any(fnmatchcase(name, pattern) for pattern, _ in rules)


def visible(user: Any, names: Iterable[str]) -> list[str]:
    """The names the user may see, in order (for lists, search results, the activity log)."""
    if not may_view(user):
        return []
    rules = queue_rules(user)
    if rules is None:
        return list(names)
    return [n for n in names if any(fnmatchcase(n, pattern) for pattern, _ in rules)]


def may_act(user: Any, kind: str | None, name: str | None = None) -> bool:
    """May the user take this kind of action (on this queue)? kind None: an
    action without a kind of its own, which needs operate_queues."""
    if not may_view(user) or dashboard_settings().read_only:
        return False
    permission = ACTION_KINDS.get(kind or "")
    if not (user.has_perm(OPERATE) or (permission is not None and user.has_perm(permission))):
        return False
    rules = queue_rules(user)
    if rules is None or name is None:
        return True
    return any(can and fnmatchcase(name, pattern) for pattern, can in rules)


def allowed_actions(user: Any, name: str | None = None) -> dict[str, bool]:
    """``{kind: allowed}`` for templates (``can.retry``), with ``any`` and
    ``bulk`` (one of the actions on selected jobs)."""
    can = {kind: may_act(user, kind, name) for kind in ACTION_KINDS}
    can["any"] = any(can.values())
    can["bulk"] = any(can[k] for k in BULK_KINDS)
    return can


def may_operate(user: Any, name: str | None = None) -> bool:
    """May the user take any action at all (on this queue)?"""
    return any(may_act(user, kind, name) for kind in ACTION_KINDS)


# one answer for every parent refused, so it tells no hidden queue or job apart
PARENT_REFUSED = "parent must name a job in a queue you may add jobs to"


def parent_queue(user: Any, qualified: Any) -> str | None:
    """The queue a ``parent`` option names (``'<prefix>:<queue>'``) if the
    user may add jobs there (a child changes its parent's dependencies);
    None for a queue hidden from them, not shown here, under another prefix,
    or that does not exist alike."""
    if not isinstance(qualified, str):
        return None
    conf = dashboard_settings()
    prefix, _, name = qualified.rpartition(":")
    if prefix != conf.prefix or not name or (conf.queues is not None and name not in conf.queues):
        return None
    return name if may_see_queue(user, name) and may_act(user, "add", name) else None


class ParentRefused(Exception):
    """A ``parent`` option naming a queue the user may not add jobs to."""


def checked_parent(user: Any, parent: Any) -> str | None:
    """The queue a ``parent`` option names, if the user may add jobs there;
    None if it is not a dict (queuecore says what a parent looks like).
    Raises ParentRefused otherwise: each caller words it (PARENT_REFUSED)."""
    if not isinstance(parent, dict):
        return None
    target = parent_queue(user, parent.get("queue"))
    if target is None:
        raise ParentRefused(PARENT_REFUSED)
    return target


def gate(permission: str = VIEW) -> Callable[[Callable[..., HttpResponse]],
                                            Callable[..., HttpResponse]]:
    """Anonymous users go to the login page; others need staff status and
    view_queues; a ``name`` in the URL must be a queue the user may see (else
    404). Every 404 is the dashboard's own page. ``permission`` OPERATE takes
    the action from the URL's ``action``; a kind (``"add"``) names the action
    itself."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @never_cache
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            if not may_view(user):
                raise PermissionDenied("you may not view queues")
            name = kwargs.get("name")
            if name is not None and not may_see_queue(user, name):
                return not_found(request, NO_QUEUE)
            if permission != VIEW:
                kind = (KIND_OF.get(kwargs.get("action", "")) if permission == OPERATE
                        else permission)
                if not may_act(user, kind, name):
                    raise PermissionDenied(f"you may not {kind or 'act on queues'}"
                                           + (f" in {name}" if name else ""))
            try:
                return view(request, *args, **kwargs)
            except Http404 as exc:  # the dashboard's own page, DEBUG or not
                return not_found(request, str(exc) or "nothing here",
                                 getattr(exc, "queue", None))

        return wrapped

    return decorator


HIDDEN_QUEUE = "a queue you cannot see"
HIDDEN_JOB = "a job in a queue you cannot see"
# a job id runs up to a space, a quote or the punctuation that follows it in prose
_ID = r"[^\s\"'\\,;)\]}]*"


@cache
def _key_pattern(prefix: str) -> re.Pattern[str]:
    """A queue's name after ``<prefix>:``, whole, so none of it is left: in a
    job's key (``<prefix>:<queue>:<id>``, as BullMQ writes it into reasons
    and traces) all up to the ":" before the id, spaces included; quoted (a
    parent's queue in JSON) all up to the quote; else up to a space."""
    p = re.escape(prefix)
    name = rf"(?:(?!{p}:)[^:\"'\\\r\n])+"
    quoted = rf"(?:(?!{p}:)[^:\"'\r\n])+"
    return re.compile(rf"{p}:(?:({name}):({_ID})|({quoted})(?=[\"'])|([^:\s\"'\\]+))")


def redactor(user: Any) -> Callable[[str], str] | None:
    """A function that replaces, in a text, every key or qualified name of a
    queue the user may not see with a neutral marker; None when the user sees
    every queue. The one redaction of flows' text (pages, lists, failure
    groups, exports, pushes)."""
    rules = queue_rules(user)
    if rules is None:
        return None
    prefix = dashboard_settings().prefix
    pattern = _key_pattern(prefix)

    def replace(found: re.Match[str]) -> str:
        key, _, quoted, bare = found.groups()
        name = key if key is not None else quoted if quoted is not None else bare
        if any(fnmatchcase(name, p) for p, _ in rules):
            return found.group(0)
        return HIDDEN_JOB if key is not None else HIDDEN_QUEUE

    def redact(text: str) -> str:
        if not isinstance(text, str) or prefix + ":" not in text:
            return text
        return pattern.sub(replace, text)

    return redact


def hide_unseen_rows(user: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Job rows (lists, search results) without hidden queues in their reasons."""
    redact = redactor(user)
    if redact is not None:
        for row in rows:
            row["failed_reason"] = redact(row.get("failed_reason") or "")
    return rows


def _hide_parent_option(opts_text: str, redact: Callable[[str], str]) -> str:
    """The Options box without the id and queue of a hidden parent."""
    try:
        opts = json.loads(opts_text)
    except ValueError:  # cut: leave it to the text redaction
        return opts_text
    parent = opts.get("parent") if isinstance(opts, dict) else None
    if isinstance(parent, dict) and redact(str(parent.get("queue"))) != parent.get("queue"):
        opts["parent"] = HIDDEN_JOB
        return json.dumps(opts, indent=2, ensure_ascii=False, default=str)
    return opts_text


def hide_unseen_flow(user: Any, context: dict[str, Any]) -> dict[str, Any]:
    """A job page's flow without the names of queues the user may not see:
    such a parent or child shows as a job elsewhere, with no key, id or
    subtree, and reasons, traces and options that name one say "a job in a
    queue you cannot see" instead."""

    def prune(nodes: list[Any]) -> None:
        for node in nodes:
            if node.queue is not None and not may_see_queue(user, node.queue):
                node.queue, node.key, node.job_id = None, "a job in another queue", ""
                node.children, node.more = [], 0
            prune(node.children)

    redact = redactor(user)
    if redact is None:
        return context
    prune(context.get("children", []))
    prune(context.get("ancestors", []))
    job = dict(context.get("job", {}))
    if job.get("parent_queue") and not may_see_queue(user, job["parent_queue"]):
        job.update(parent_id=None, parent_queue=None)
    if job.get("opts_text"):
        job["opts_text"] = redact(_hide_parent_option(job["opts_text"], redact))
    for field in ("failed_reason", "failed_reason_full", "parent_key", "deferred_failure"):
        if isinstance(job.get(field), str):
            job[field] = redact(job[field])
    if isinstance(job.get("stacktrace"), list):
        job["stacktrace"] = [redact(t) if isinstance(t, str) else t for t in job["stacktrace"]]
    context["job"] = job
    return context
