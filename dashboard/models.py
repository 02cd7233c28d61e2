"""The dashboard's audit log, and the permissions that guard it."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """One operator action: who did what, on which queue and jobs, and what it did."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                             related_name="queue_actions")
    username = models.CharField(max_length=150)  # kept if the user is deleted
    action = models.CharField(max_length=40)
    queue = models.CharField(max_length=200, db_index=True)
    job_ids = models.JSONField(default=list, blank=True)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("view_queues", "Can view queues and jobs"),
            ("operate_queues", "Can act on queues and jobs"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.queue}"
