from django.apps import AppConfig
from django.core import checks
from django.utils.module_loading import autodiscover_modules


class QueuecoreConfig(AppConfig):
    name = "queuecore"
    verbose_name = "queuecore"

    def ready(self) -> None:
        from . import sandbox
        from .conf import check_settings

        checks.register(check_settings, "queuecore")
        # sandbox children set Django up too (the engine itself imports no Django)
        sandbox.set_child_setup("queuecore.conf.sandbox_setup")
        autodiscover_modules("jobs")  # each app's jobs.py registers its processors
