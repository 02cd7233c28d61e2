"""The websockets' Origin check: a socket opens only from the page's own
origin (scheme, host and port) or one listed in ``CSRF_TRUSTED_ORIGINS``,
the rule Django's CSRF check applies to a form's POST. Channels'
AllowedHostsOriginValidator compares hosts only, so a page on any other
port of an allowed host (another local app) got live job data and the CSRF
secret the pushes carry.

The page's origin is found as Django finds a request's:

* host: the Host header, or X-Forwarded-Host with ``USE_X_FORWARDED_HOST``;
  it must be in ``ALLOWED_HOSTS``;
* scheme: the ``SECURE_PROXY_SSL_HEADER`` header when it is set and sent
  (behind a TLS-terminating proxy), else the scope's ``scheme`` (uvicorn,
  hypercorn), else https under ``SECURE_SSL_REDIRECT``. Daphne's websocket
  scope has no scheme, served over TLS or not: then the Origin's scheme is
  taken, since one port speaks one protocol, except that a Host without a
  port on a server listening on 443 (or 80) is https (or http);
* port: the host's, else the scheme's default.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
DEFAULT_PORTS = {"http": 80, "https": 443}
DEBUG_HOSTS = [".localhost", "127.0.0.1", "[::1]"]  # Django's, when DEBUG and none are set
Origin = tuple[str, str, int]  # scheme, host (no brackets), port


def _header(scope: Scope, name: bytes) -> list[str]:
    return [value.decode("latin1") for key, value in scope.get("headers", ()) if key == name]


def parse_origin(text: str) -> Origin | None:
    """An Origin header (or a trusted origin) as (scheme, host, port)."""
    try:
        parts = urlsplit(text.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def _page_scheme(scope: Scope) -> str | None:
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        meta_name, secure_value = proxy
        name = meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin1")
        sent = _header(scope, name)
        if sent:
            return "https" if sent[0].split(",", 1)[0].strip() == secure_value else "http"
    scheme = scope.get("scheme")
    if scheme in ("wss", "https", "ws", "http"):
        return "https" if scheme in ("wss", "https") else "http"
    if settings.SECURE_SSL_REDIRECT:
        return "https"
    return None


def page_host(scope: Scope) -> tuple[str, int | None] | None:
    """The page's host (checked against ALLOWED_HOSTS) and its port if given."""
    forwarded = _header(scope, b"x-forwarded-host") if settings.USE_X_FORWARDED_HOST else []
    hosts = [forwarded[0].split(",", 1)[0].strip()] if forwarded else _header(scope, b"host")
    if len(hosts) != 1:
        return None
    domain, port = split_domain_port(hosts[0])
    allowed = settings.ALLOWED_HOSTS or (DEBUG_HOSTS if settings.DEBUG else [])
    if not domain or not validate_host(domain, allowed):
        return None
    return domain.strip("[]"), int(port) if port else None


def same_origin(scope: Scope, origin: Origin) -> bool:
    """Is ``origin`` the origin of the page that opens this socket?"""
    found = page_host(scope)
    if found is None:
        return False
    host, port = found
    scheme = _page_scheme(scope)
    if scheme is None and port is None:
        server = scope.get("server") or (None, None)
        scheme = {443: "https", 80: "http"}.get(server[1])
    scheme = scheme or origin[0]
    return origin == (scheme, host, port or DEFAULT_PORTS[scheme])


def trusted(text: str, origin: Origin) -> bool:
    """Is ``origin`` one of CSRF_TRUSTED_ORIGINS (``https://*.example.com``
    covers the subdomains, as for Django's CSRF check)?"""
    if "*" in text:
        pattern = urlsplit(text.lower())
        netloc = origin[1] if origin[2] == DEFAULT_PORTS[origin[0]] else f"{origin[1]}:{origin[2]}"
        return pattern.scheme == origin[0] and is_same_domain(netloc, pattern.netloc.lstrip("*"))
    return parse_origin(text) == origin


def origin_allowed(scope: Scope) -> bool:
    sent = _header(scope, b"origin")
    origin = parse_origin(sent[0]) if len(sent) == 1 else None
    if origin is None:  # none, "null", several or not http(s): browsers always send one
        return False
    return same_origin(scope, origin) or any(
        trusted(text, origin) for text in getattr(settings, "CSRF_TRUSTED_ORIGINS", ()))


class SameOriginValidator:
    """ASGI middleware for websockets: refuses the handshake (403) unless
    the Origin is the page's own or a trusted one."""

    def __init__(self, application: ASGIApp) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            await WebsocketDenier()(scope, receive, send)
            return
        await self.application(scope, receive, send)
