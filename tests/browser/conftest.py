"""Browser tests: Daphne serving the real ASGI app, driven by Debian's chromium.

Fixtures
--------
live_server_url (session)
    Base URL (``http://127.0.0.1:PORT``, no trailing slash) of a Daphne
    subprocess serving ``config.asgi:application``, with its own SQLite
    database in a temporary directory, the session's private Redis
    (``redis_url``), ``DJANGO_DEBUG=0`` and two users: the staff superuser
    ``admin``/``admin-pass`` and the non-staff ``plain``/``plain-pass``.
browser (package: once for all of tests/browser/)
    A headless chromium (``/usr/bin/chromium``) launched by Playwright; the
    tests are skipped when that binary is missing.
page
    A fresh page in a new browser context (no cookies shared between tests).
login
    ``login(page, username, password)``: submits Django admin's login form
    (next=/admin/queues/) and returns the page, wherever the form led.
login_as
    ``login_as(page, username)``: a server-made session cookie for that user,
    to reach views as a logged-in non-staff user (the admin form refuses them).
logged_in_page
    ``page`` logged in as ``admin``, on /admin/queues/.
screenshot_dir (session)
    ``var/screenshots/`` under the project root, created.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from .support import ADMIN_USER, DASHBOARD_PATH, HOST, LOGIN_PATH, PLAIN_USER

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
DAPHNE = str(VENV_BIN / "daphne")
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "var" / "screenshots"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

MANAGE_TIMEOUT = 60  # seconds, for each manage.py command (pytest timeout is 120)
STARTUP_TIMEOUT = 30  # seconds for Daphne to answer HTTP
SHUTDOWN_TIMEOUT = 10  # seconds between SIGTERM and SIGKILL
LAUNCH_TIMEOUT_MS = 30_000  # chromium start
ACTION_TIMEOUT_MS = 10_000  # every Playwright wait (locators, expect, ...)
NAVIGATION_TIMEOUT_MS = 15_000  # every page load

USERS = ((*ADMIN_USER, True), (*PLAIN_USER, False))  # username, password, staff + superuser

CREATE_USERS = f"""
from django.contrib.auth import get_user_model
User = get_user_model()
for username, password, staff in {USERS!r}:
    user, _ = User.objects.get_or_create(username=username)
    user.is_staff = user.is_superuser = staff
    user.is_active = True
    user.set_password(password)
    user.save()
print("users ready")
"""


# -- the server --------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when pytest dies (even by os._exit or
    SIGKILL, e.g. pytest-timeout's thread method), so no Daphne is left over."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _tail(path: Path, chars: int = 6000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return text[-chars:] if text.strip() else "(no output)"


def _manage(env: dict[str, str], *args: str) -> str:
    """Run manage.py with the server's environment; fail the fixture on error."""
    cmd = [PYTHON, str(ROOT / "manage.py"), *args]
    try:
        done = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=MANAGE_TIMEOUT, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"manage.py {args[0]} took over {MANAGE_TIMEOUT}s\n"
                    f"stdout:\n{exc.stdout}\nstderr:\n{exc.stderr}", pytrace=False)
    if done.returncode != 0:
        pytest.fail(f"manage.py {args[0]} exited with {done.returncode}\n"
                    f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-6000:]}",
                    pytrace=False)
    return done.stdout


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers; never raises."""
    for sig, wait in ((signal.SIGTERM, SHUTDOWN_TIMEOUT), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait)
    # anything else left in the group (Daphne starts no children, but be sure)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


# no proxy from the environment for the loopback probe
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _answers(url: str) -> bool:
    """Daphne answers HTTP at url (any status counts: the app is up)."""
    try:
        with _OPENER.open(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def _start_daphne(env: dict[str, str], log_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start Daphne on a free port and wait until it answers; retry a lost port race."""
    for attempt in range(3):
        port = _free_port()
        url = f"http://{HOST}:{port}"
        stdout, stderr = log_dir / f"daphne-{attempt}.out", log_dir / f"daphne-{attempt}.err"
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            proc = subprocess.Popen(
                [DAPHNE, "-b", HOST, "-p", str(port), "config.asgi:application"],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True, preexec_fn=_die_with_parent,
            )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while proc.poll() is None and time.monotonic() < deadline:
                if _answers(url + LOGIN_PATH):
                    return proc, url
                time.sleep(0.2)
            exited = proc.poll()
        except BaseException:  # interrupted (Ctrl-C, pytest-timeout): no server left behind
            _stop(proc)
            raise
        _stop(proc)
        log = _tail(stderr)
        if exited is not None and "Address already in use" in log:
            continue  # another process took the port between probe and bind
        state = (f"did not answer within {STARTUP_TIMEOUT}s" if exited is None
                 else f"exited with {exited}")
        pytest.fail(f"Daphne ({url}) {state}\nstderr:\n{log}\nstdout:\n{_tail(stdout)}",
                    pytrace=False)
    pytest.fail("Daphne lost the race for a free port three times", pytrace=False)


@pytest.fixture(scope="session")
def live_server_env(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of the server and its manage.py commands."""
    var_dir = tmp_path_factory.mktemp("live-server-var")
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "QUEUECORE_REDIS_URL": redis_url,
        "QUEUECORE_VAR_DIR": str(var_dir),
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": f"{HOST},localhost",
        "PYTHONUNBUFFERED": "1",
    })
    return env


@pytest.fixture(scope="session")
def live_server_url(
    live_server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of Daphne serving config.asgi:application (no trailing slash)."""
    _manage(live_server_env, "migrate", "--no-input", "--verbosity", "0")
    _manage(live_server_env, "shell", "-c", CREATE_USERS)
    proc, url = _start_daphne(live_server_env, tmp_path_factory.mktemp("daphne-logs"))
    try:
        yield url
    finally:
        _stop(proc)


# -- the browser -------------------------------------------------------------


# Package scope, not session: while Playwright's sync API is started, its
# asyncio loop counts as running in the main thread, so any later test calling
# asyncio.run() (tests/test_events.py, test_worker.py, ...) would fail. The
# browser is closed once the last test under tests/browser/ is done.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            timeout=LAUNCH_TIMEOUT_MS,
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, live_server_url: str) -> Iterator[Page]:
    """A page in a context of its own, with base_url set to the live server."""
    context = browser.new_context(base_url=live_server_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def _login(page: Page, username: str, password: str, next_path: str = DASHBOARD_PATH) -> Page:
    page.goto(f"{LOGIN_PATH}?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation(wait_until="load"):
        page.click("input[type=submit]")
    return page


@pytest.fixture
def login() -> Callable[..., Page]:
    """login(page, username, password, next_path="/admin/queues/") -> page."""
    return _login


SESSION_FOR = """
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth import get_user_model
user = get_user_model().objects.get(username={username!r})
store = import_module(settings.SESSION_ENGINE).SessionStore()
store[SESSION_KEY] = user._meta.pk.value_to_string(user)
store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
store[HASH_SESSION_KEY] = user.get_session_auth_hash()
store.save()
print(settings.SESSION_COOKIE_NAME, store.session_key)
"""


@pytest.fixture
def login_as(live_server_env: dict[str, str], live_server_url: str) -> Callable[..., Page]:
    """login_as(page, username) -> page: gives the page's context a session of
    that user, made server-side, without the admin login form (which turns
    away non-staff users before any dashboard view sees them)."""

    def login_as(page: Page, username: str) -> Page:
        out = _manage(live_server_env, "shell", "-c", SESSION_FOR.format(username=username))
        name, value = out.split()[-2:]
        page.context.add_cookies([{"name": name, "value": value, "url": live_server_url}])
        return page

    return login_as


@pytest.fixture
def logged_in_page(page: Page) -> Page:
    """page, logged in as the staff superuser admin, on /admin/queues/."""
    _login(page, *ADMIN_USER)
    if LOGIN_PATH in page.url:
        errors = page.locator(".errornote, .errorlist").all_inner_texts()
        pytest.fail(f"admin login failed, still on {page.url}: {errors}", pytrace=False)
    return page


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """var/screenshots under the project root (created)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
