"""Settings of the queuecore project: production defaults (DEBUG off, HTTPS
only), each switchable by an environment variable (docs/settings.md). The
demo has settings of its own (config/demo_settings.py)."""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from config.env import SettingsError, env_flag, env_header, env_hosts, env_int

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("QUEUECORE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # the SQLite database and the embedded Redis live here

DEBUG = env_flag("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise SettingsError(
            "DJANGO_SECRET_KEY is not set, and DEBUG is off (the default). Set it to a long "
            "random value, kept secret and the same in every process of the site; generate "
            "one with: python -c 'from django.core.management.utils import "
            "get_random_secret_key; print(get_random_secret_key())'. For development on "
            "your own machine, DJANGO_DEBUG=1 runs with a development key instead.")
    SECRET_KEY = "django-insecure-development-only-key"  # DEBUG only
ALLOWED_HOSTS = env_hosts("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

# HTTPS. On by default without DEBUG, so `manage.py check --deploy` passes;
# behind a proxy that terminates TLS, DJANGO_SECURE_PROXY_SSL_HEADER names the
# header the proxy sets (X-Forwarded-Proto: https), or the proxy redirects and
# DJANGO_SECURE_SSL_REDIRECT=0 (docs/settings.md).
SECURE_SSL_REDIRECT = env_flag("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_flag("DJANGO_SECURE_COOKIES", not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading commits a whole domain to HTTPS in every browser: its owner opts in
# (DJANGO_SECURE_HSTS_PRELOAD=1), so check --deploy's reminder is silenced until then.
SECURE_HSTS_PRELOAD = env_flag("DJANGO_SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_PROXY_SSL_HEADER = env_header("DJANGO_SECURE_PROXY_SSL_HEADER")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "queuecore",  # before channels: its runworker command replaces Channels' own
    "channels",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

def database_from_url(url: str) -> dict[str, object]:
    """DATABASE_URL (postgres://user:pass@host:5432/name, mysql://..., sqlite:///path)
    as a Django DATABASES entry. PostgreSQL needs psycopg installed."""
    parts = urlsplit(url)
    engines = {"postgres": "postgresql", "postgresql": "postgresql", "pgsql": "postgresql",
               "mysql": "mysql", "sqlite": "sqlite3"}
    scheme = parts.scheme.split("+")[0]
    if scheme not in engines:
        raise ValueError(f"DATABASE_URL scheme {parts.scheme!r} is not one of {sorted(engines)}")
    if scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parts.path[1:] or ":memory:"}
    return {
        "ENGINE": f"django.db.backends.{engines[scheme]}",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


DATABASES = {
    "default": database_from_url(os.environ["DATABASE_URL"]) if os.environ.get("DATABASE_URL")
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "db.sqlite3"},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# queuecore: QUEUECORE_REDIS_URL overrides REDIS_URL; with neither, the demo
# starts a private server (queuecore.embedded) with its data under var/redis.
QUEUECORE = {
    "REDIS_URL": os.environ.get("QUEUECORE_REDIS_URL"),
    "PREFIX": os.environ.get("QUEUECORE_PREFIX", "bull"),
}

# The dashboard at /admin/queues (see docs/settings.md).
QUEUECORE_DASHBOARD = {
    "QUEUES": None,  # an allow-list of queue names; None shows every queue under PREFIX
    "PAGE_SIZE": 25,
    "READ_ONLY": os.environ.get("QUEUECORE_DASHBOARD_READ_ONLY", "0") == "1",
    "FORMATTER": None,  # dotted path of a function(job_dict) -> job_dict, to mask fields
}

# Live updates: one process needs no broker (the consumers read Redis themselves).
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

LOGIN_URL = "admin:login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"queuecore": {"handlers": ["console"], "level": "INFO"}},
}
