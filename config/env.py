"""Settings read from environment variables: each bad value is a
``SettingsError`` naming the variable and saying what it takes (``manage.py``
prints it without a traceback)."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured


class SettingsError(ImproperlyConfigured):
    """An environment variable the settings cannot use, or one that is missing."""


def env_flag(name: str, default: bool) -> bool:
    """A 0/1 variable."""
    value = os.environ.get(name)
    if value is None:
        return default
    if value.strip() not in ("0", "1"):
        raise SettingsError(f"{name} must be 0 or 1, not {value!r}")
    return value.strip() == "1"


def env_int(name: str, default: int) -> int:
    """A whole number of at least 0."""
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise SettingsError(f"{name} must be a whole number of at least 0, not {value!r}")
    return number


def env_hosts(name: str, default: str) -> list[str]:
    """A comma-separated host list; an empty list or entry is an error, not ``['']``."""
    hosts = [host.strip() for host in os.environ.get(name, default).split(",")]
    if not all(hosts):
        raise SettingsError(
            f"{name}={os.environ.get(name)!r} has an empty host name; give the host names "
            f"the site is served at, comma-separated, e.g. {name}=queues.example.com")
    return hosts


def env_header(name: str) -> tuple[str, str] | None:
    """The header a TLS-terminating proxy sets to ``https`` (``X-Forwarded-Proto``),
    as Django's SECURE_PROXY_SSL_HEADER (a WSGI/ASGI META name and that value)."""
    value = os.environ.get(name)
    if value is None:
        return None
    header = value.strip()
    if not header or not all(c.isalnum() or c == "-" for c in header):
        raise SettingsError(f"{name} is the name of the header your proxy sets to 'https', "
                            f"such as X-Forwarded-Proto, not {value!r}")
    return "HTTP_" + header.upper().replace("-", "_"), "https"
