"""The dashboard's audit log, and the permissions that guard it."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models

# One permission per kind of action (dashboard.retry_jobs ...); operate_queues grants them all.
ACTION_PERMISSIONS = [
    ("retry_jobs", "Can retry jobs"),
    ("promote_jobs", "Can promote delayed jobs"),
    ("remove_jobs", "Can remove jobs"),
    ("clean_queues", "Can clean queues"),
    ("pause_queues", "Can pause and resume queues"),
    ("drain_queues", "Can drain queues"),
    ("obliterate_queues", "Can obliterate queues"),
    ("edit_jobs", "Can edit the data, delay and priority of jobs"),
    ("add_jobs", "Can add and duplicate jobs"),
    ("cancel_jobs", "Can cancel running jobs"),
]


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
            *ACTION_PERMISSIONS,
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.queue}"


class QueueAccess(models.Model):
    """Limits a group to the queues its patterns match. A user none of whose
    groups has a rule sees every queue; a user with rules sees only the queues
    their groups' rules match, and acts only where a matching rule allows it."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="queue_access")
    pattern = models.CharField(
        max_length=200,
        help_text="A queue name or a glob: <code>payments-*</code>, <code>*</code> for all.")
    can_operate = models.BooleanField(
        default=False,
        help_text="Members may act on these queues (with the action permissions they hold); "
                  "otherwise they only see them.")

    class Meta:
        verbose_name = "queue access rule"
        ordering = ["group__name", "pattern"]
        constraints = [models.UniqueConstraint(fields=["group", "pattern"],
                                               name="queue_access_unique_pattern")]

    def __str__(self) -> str:
        return f"{self.group} {'operates' if self.can_operate else 'sees'} {self.pattern}"
