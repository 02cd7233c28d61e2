"""config/settings.py's production defaults, read by ``manage.py`` processes
started with nothing but the environment variables of each case."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "t0p-s3cret-" + "Vq8#zL2!mN5$wR7%" * 4
PROBE = """
import json
from django.conf import settings
from django.test import Client
client = Client()
plain = client.get("/admin/login/")
proxied = client.get("/admin/login/", headers={"x-forwarded-proto": "https"})
print(json.dumps({name: getattr(settings, name) for name in (
    "DEBUG", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER")} | {
    "plain": [plain.status_code, plain.get("Location")],
    "proxied": [proxied.status_code, proxied.get("Strict-Transport-Security")]}))
"""


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``manage.py *args`` with config.settings and only ``env`` of the DJANGO_ variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.update(DJANGO_SETTINGS_MODULE="config.settings", QUEUECORE_VAR_DIR=str(tmp_path),
                 **env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=60, check=False)


def probe(tmp_path: Path, **env: str) -> dict[str, Any]:
    done = manage(tmp_path, "shell", "-c", PROBE, **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


PRODUCTION = {"DJANGO_SECRET_KEY": STRONG_KEY,
              "DJANGO_ALLOWED_HOSTS": "queues.example.com,testserver"}


@pytest.mark.parametrize("proxy", [{}, {"DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}])
def test_check_deploy_passes_with_a_key_and_hosts(tmp_path: Path, proxy: dict[str, str]
                                                  ) -> None:
    done = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION,
                  **proxy)
    assert done.returncode == 0, done.stderr
    assert "WARNINGS" not in done.stderr + done.stdout
    assert "System check identified no issues" in done.stdout


def test_production_defaults_redirect_to_https_and_send_hsts(tmp_path: Path) -> None:
    found = probe(tmp_path, **PRODUCTION)
    assert found["DEBUG"] is False  # off unless asked for
    assert found["ALLOWED_HOSTS"] == ["queues.example.com", "testserver"]
    assert (found["SECURE_SSL_REDIRECT"], found["SESSION_COOKIE_SECURE"],
            found["CSRF_COOKIE_SECURE"]) == (True, True, True)
    assert found["SECURE_HSTS_SECONDS"] == 31_536_000
    assert found["plain"] == [301, "https://testserver/admin/login/"]
    # without the proxy header switch, a proxy's X-Forwarded-Proto is not trusted
    assert found["proxied"][0] == 301


def test_behind_a_tls_proxy(tmp_path: Path) -> None:
    found = probe(tmp_path, **PRODUCTION, DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    assert found["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert found["proxied"] == [200, "max-age=31536000; includeSubDomains"]
    assert found["plain"][0] == 301
    # a proxy that redirects by itself: every HTTPS setting has its switch
    found = probe(tmp_path, **PRODUCTION, DJANGO_SECURE_SSL_REDIRECT="0",
                  DJANGO_SECURE_COOKIES="0", DJANGO_SECURE_HSTS_SECONDS="3600",
                  DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS="0", DJANGO_SECURE_HSTS_PRELOAD="1")
    assert found["plain"] == [200, None]
    assert (found["SESSION_COOKIE_SECURE"], found["CSRF_COOKIE_SECURE"]) == (False, False)
    assert (found["SECURE_HSTS_SECONDS"], found["SECURE_HSTS_INCLUDE_SUBDOMAINS"],
            found["SECURE_HSTS_PRELOAD"]) == (3600, False, True)


def test_debug_runs_with_a_development_key(tmp_path: Path) -> None:
    found = probe(tmp_path, DJANGO_DEBUG="1", DJANGO_ALLOWED_HOSTS="testserver")
    assert found["DEBUG"] is True
    assert found["SECURE_SSL_REDIRECT"] is False and found["plain"][0] == 200
    done = manage(tmp_path, "check", "--deploy", DJANGO_DEBUG="1")
    assert "security.W018" in done.stderr  # check --deploy still says DEBUG is on


@pytest.mark.parametrize(("env", "message"), [
    ({}, "DJANGO_SECRET_KEY is not set, and DEBUG is off"),
    ({"DJANGO_DEBUG": "0"}, "DJANGO_SECRET_KEY is not set, and DEBUG is off"),
    ({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY is not set"),
    ({**PRODUCTION, "DJANGO_ALLOWED_HOSTS": ""}, "DJANGO_ALLOWED_HOSTS='' has an empty host"),
    ({**PRODUCTION, "DJANGO_ALLOWED_HOSTS": "a.example.com,"}, "has an empty host name"),
    ({**PRODUCTION, "DJANGO_DEBUG": "true"}, "DJANGO_DEBUG must be 0 or 1, not 'true'"),
    ({**PRODUCTION, "DJANGO_SECURE_HSTS_SECONDS": "1y"},
     "DJANGO_SECURE_HSTS_SECONDS must be a whole number"),
    ({**PRODUCTION, "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https"},
     "the name of the header your proxy sets"),
])
def test_refuses_to_start(tmp_path: Path, env: dict[str, str], message: str) -> None:
    done = manage(tmp_path, "check", **env)
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr  # the message alone says what to do
    if "SECRET_KEY" in message:
        assert "get_random_secret_key" in done.stderr and "DJANGO_DEBUG=1" in done.stderr
