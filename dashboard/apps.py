from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The Bull Board style dashboard at /admin/queues (pages arrive in a later issue)."""

    name = "dashboard"
    verbose_name = "Queues dashboard"
