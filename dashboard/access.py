"""One gate for every dashboard view: a logged-in staff user with the
dashboard's permission, no caching, CSRF on actions (Django's middleware)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache

from .conf import dashboard_settings

VIEW = "dashboard.view_queues"
OPERATE = "dashboard.operate_queues"


def may_view(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff
                and user.has_perm(VIEW))


def may_operate(user: Any) -> bool:
    return may_view(user) and user.has_perm(OPERATE) and not dashboard_settings().read_only


def gate(permission: str = VIEW) -> Callable[[Callable[..., HttpResponse]],
                                            Callable[..., HttpResponse]]:
    """Anonymous users go to the login page; others need staff status and
    ``permission`` (operating also needs READ_ONLY off)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @never_cache
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            allowed = may_operate(user) if permission == OPERATE else may_view(user)
            if not allowed:
                raise PermissionDenied("you may not " + (
                    "act on queues" if permission == OPERATE else "view queues"))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
