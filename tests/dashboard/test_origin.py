"""The websockets accept only the page's own origin (scheme, host, port) or
a trusted one, in each way the dashboard is served: Daphne over plain HTTP,
Daphne serving TLS itself (no scheme in its websocket scope), behind a
TLS-terminating proxy, and an ASGI server whose scope has the scheme."""

from __future__ import annotations

import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from config.asgi import application
from queuecore import Queue

pytestmark = pytest.mark.django_db(transaction=True)

DAPHNE = {"server": ["127.0.0.1", 8000]}  # Daphne's websocket scope: no "scheme"
DAPHNE_TLS_443 = {"server": ["10.0.0.5", 443]}
UVICORN_TLS = {"scheme": "wss", "server": ["10.0.0.5", 8443]}
PROXY = {"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
         "USE_X_FORWARDED_HOST": True}
BEHIND_PROXY = [(b"host", b"127.0.0.1:8000"), (b"x-forwarded-host", b"dash.example"),
                (b"x-forwarded-proto", b"https")]

# (case, settings, scope, headers, origin or None, accepted)
CASES = [
    ("dev: the page's own origin", {}, DAPHNE, [(b"host", b"localhost:8000")],
     "http://localhost:8000", True),
    ("dev: another port of the host", {}, DAPHNE, [(b"host", b"localhost:8000")],
     "http://localhost:9999", False),
    ("dev: another host", {}, DAPHNE, [(b"host", b"localhost:8000")],
     "http://evil.example:8000", False),
    ("dev: no Origin", {}, DAPHNE, [(b"host", b"localhost:8000")], None, False),
    ("dev: Origin null", {}, DAPHNE, [(b"host", b"localhost:8000")], "null", False),
    ("dev: a Host not allowed", {}, DAPHNE, [(b"host", b"evil.example:8000")],
     "http://evil.example:8000", False),
    ("dev: IPv6", {}, DAPHNE, [(b"host", b"[::1]:8000")], "http://[::1]:8000", True),
    ("daphne TLS: own origin", {}, {"server": ["10.0.0.5", 8443]},
     [(b"host", b"dash.example:8443")], "https://dash.example:8443", True),
    ("daphne TLS: another port", {}, {"server": ["10.0.0.5", 8443]},
     [(b"host", b"dash.example:8443")], "https://dash.example:9443", False),
    ("daphne TLS: the default port's origin", {}, {"server": ["10.0.0.5", 8443]},
     [(b"host", b"dash.example:8443")], "https://dash.example", False),
    ("daphne TLS on 443: own origin", {}, DAPHNE_TLS_443, [(b"host", b"dash.example")],
     "https://dash.example", True),
    ("daphne TLS on 443: plain http page", {}, DAPHNE_TLS_443, [(b"host", b"dash.example")],
     "http://dash.example", False),
    ("ssl redirect: http page", {"SECURE_SSL_REDIRECT": True}, DAPHNE,
     [(b"host", b"dash.example")], "http://dash.example", False),
    ("ssl redirect: https page", {"SECURE_SSL_REDIRECT": True}, DAPHNE,
     [(b"host", b"dash.example")], "https://dash.example", True),
    ("proxy: the public origin", PROXY, DAPHNE, BEHIND_PROXY, "https://dash.example", True),
    ("proxy: http on the public host", PROXY, DAPHNE, BEHIND_PROXY, "http://dash.example",
     False),
    ("proxy: another port", PROXY, DAPHNE, BEHIND_PROXY, "https://dash.example:8443", False),
    ("proxy: the upstream address", PROXY, DAPHNE, BEHIND_PROXY, "http://127.0.0.1:8000",
     False),
    ("proxy: plain http forwarded", PROXY, DAPHNE,
     [(b"host", b"dash.example"), (b"x-forwarded-proto", b"http")], "http://dash.example",
     True),
    ("scope scheme: own origin", {}, UVICORN_TLS, [(b"host", b"dash.example:8443")],
     "https://dash.example:8443", True),
    ("scope scheme: http on the TLS port", {}, UVICORN_TLS,
     [(b"host", b"dash.example:8443")], "http://dash.example:8443", False),
    ("trusted origin", {"CSRF_TRUSTED_ORIGINS": ["https://ops.example"]}, DAPHNE,
     [(b"host", b"localhost:8000")], "https://ops.example", True),
    ("trusted origin: other scheme", {"CSRF_TRUSTED_ORIGINS": ["https://ops.example"]},
     DAPHNE, [(b"host", b"localhost:8000")], "http://ops.example", False),
    ("trusted subdomains", {"CSRF_TRUSTED_ORIGINS": ["https://*.corp.example"]}, DAPHNE,
     [(b"host", b"localhost:8000")], "https://a.corp.example", True),
    ("trusted subdomains: other port", {"CSRF_TRUSTED_ORIGINS": ["https://*.corp.example"]},
     DAPHNE, [(b"host", b"localhost:8000")], "https://a.corp.example:9999", False),
]


@pytest.fixture
def session_cookie(db: None, django_user_model: Any) -> bytes:
    user = django_user_model.objects.create_user(f"u{time.monotonic_ns()}", password="pw",
                                                 is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_queues"))
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}; csrftoken={'s' * 32}".encode()


def _open(path: str, scope: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> tuple[
        bool, str]:
    async def go() -> tuple[bool, str]:
        communicator = WebsocketCommunicator(application, path, headers=headers)
        communicator.scope.update(scope)
        connected, _ = await communicator.connect(timeout=5)
        pushed = await communicator.receive_from(timeout=5) if connected else ""
        await communicator.disconnect()
        return connected, pushed

    return async_to_sync(go)()


@pytest.mark.parametrize(("case", "conf", "scope", "headers", "origin", "accepted"), CASES,
                         ids=[c[0] for c in CASES])
def test_sockets_open_only_from_the_pages_own_origin(
        case: str, conf: dict[str, Any], scope: dict[str, Any],
        headers: list[tuple[bytes, bytes]], origin: str | None, accepted: bool,
        session_cookie: bytes, queue: Queue, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["localhost", "[::1]", "dash.example", "127.0.0.1"]
    for name, value in conf.items():
        setattr(settings, name, value)
    sent = [*headers, (b"cookie", session_cookie)]
    if origin is not None:
        sent.append((b"origin", origin.encode()))
    connected, pushed = _open(f"/ws/queues/{queue.name}/", scope, sent)
    assert connected is accepted, case
    if accepted:  # the live data (and, on a job page, the CSRF secret) it gets
        assert 'id="job-list"' in pushed
    else:
        assert pushed == ""


_hosts = st.sampled_from(["localhost", "dash.example", "127.0.0.1", "[::1]", "evil.example"])
_ports = st.none() | st.sampled_from([80, 443, 8000, 8443, 9999])
_schemes = st.sampled_from(["http", "https"])


def _netloc(host: str, port: int | None) -> str:
    return host if port is None else f"{host}:{port}"


def _normal(scheme: str, host: str, port: int | None) -> tuple[str, str, int]:
    return scheme, host.strip("[]"), port or {"http": 80, "https": 443}[scheme]


@settings(max_examples=300)
@given(page_scheme=_schemes, page_host=_hosts, page_port=_ports, origin_scheme=_schemes,
       origin_host=_hosts, origin_port=_ports, via_proxy=st.booleans())
def test_an_origin_is_accepted_exactly_when_it_is_the_pages(
        settings: Any, page_scheme: str, page_host: str, page_port: int | None,
        origin_scheme: str, origin_host: str, origin_port: int | None,
        via_proxy: bool) -> None:
    from dashboard.origin import origin_allowed

    settings.ALLOWED_HOSTS = ["localhost", "dash.example", "127.0.0.1", "[::1]"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    headers = [(b"host", _netloc(page_host, page_port).encode()),
               (b"origin", f"{origin_scheme}://{_netloc(origin_host, origin_port)}".encode())]
    scope: dict[str, Any] = {"type": "websocket", "headers": headers}
    if via_proxy:  # a TLS-terminating proxy says the scheme
        headers.append((b"x-forwarded-proto", page_scheme.encode()))
    else:  # an ASGI server that puts it in the scope
        scope["scheme"] = {"http": "ws", "https": "wss"}[page_scheme]
    same = (_normal(origin_scheme, origin_host, origin_port)
            == _normal(page_scheme, page_host, page_port))
    assert origin_allowed(scope) is (same and page_host != "evil.example")
