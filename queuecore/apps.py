from django.apps import AppConfig


class QueuecoreConfig(AppConfig):
    name = "queuecore"
    verbose_name = "queuecore"
