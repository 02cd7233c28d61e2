"""Names shared by the browser fixtures (conftest.py) and the tests."""

HOST = "127.0.0.1"
DASHBOARD_PATH = "/admin/queues/"
LOGIN_PATH = "/admin/login/"

# username, password: created by the live_server_url fixture
ADMIN_USER = ("admin", "admin-pass")  # staff superuser
PLAIN_USER = ("plain", "plain-pass")  # active, not staff
