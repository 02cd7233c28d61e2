"""Settings of the test suite: the project's production defaults (DEBUG off),
with a key of the tests' own and plain HTTP (the test client, Daphne on
127.0.0.1). Set in the environment, so the manage.py and Daphne processes the
tests start get them too."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-key-" + "k7Qx2vLp9sRt4wYz" * 3)
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("DJANGO_SECURE_COOKIES", "0")

from config.settings import *  # noqa: F403
