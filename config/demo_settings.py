"""Settings of ``make demo`` (``manage.py demo``, its workers and its Daphne):
the project's, in development mode (DEBUG on, a demo key, plain HTTP) with a
database of the demo's own, so its ``demo`` / ``demo-pass`` login never lands
in the database a real deployment uses; plus the demo queues' processors, so
the demo's workers run through ``manage.py runworker``."""

import os

# config.settings refuses to load without a key unless DEBUG is on, and reads
# DJANGO_DEBUG at import: the demo is a development server whatever the shell says.
_debug = os.environ.get("DJANGO_DEBUG")
os.environ["DJANGO_DEBUG"] = "1"
try:
    from config.settings import *  # noqa: F403
    from config.settings import QUEUECORE, VAR_DIR
finally:
    if _debug is None:
        del os.environ["DJANGO_DEBUG"]
    else:
        os.environ["DJANGO_DEBUG"] = _debug

from dashboard.demo_jobs import QUEUES as DEMO_QUEUES  # noqa: E402

DEMO = True  # manage.py demo runs only with these settings
DEBUG = True
SECRET_KEY = "django-insecure-demo-only-key"
SECURE_SSL_REDIRECT = SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
SECURE_PROXY_SSL_HEADER = None

# never DATABASE_URL: that is the real deployment's
DEMO_DIR = VAR_DIR / "demo"
DEMO_DIR.mkdir(exist_ok=True)
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DEMO_DIR / "db.sqlite3"}}

QUEUECORE = {
    **QUEUECORE,
    # every demo worker records BullMQ's per-minute metrics (a day of them)
    "QUEUES": {name: {"processor": path, "metrics": {"max_data_points": 1440}, **options}
               for name, (path, options) in DEMO_QUEUES.items()},
}
