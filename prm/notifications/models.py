"""Notifications: telling a person something happened, in the portal and by email.

Domain apps call `notify()` at their hand-offs (an application received, a deal decided, a quiz
passed); this app knows only people (accounts) and core, never the domain that spoke.
"""

from django.conf import settings
from django.db import models

from prm.core.tenancy import ScopeKind, scope_of


class NotificationQuerySet(models.QuerySet):
    """A person's own notifications, whoever they are: not a partner's or a customer's rows."""

    def visible_to(self, user):
        if scope_of(user).kind is ScopeKind.NONE:
            return self.none()
        return self.filter(recipient=user)

    def unread(self):
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=60, help_text='What happened, e.g. "deal.status_changed".')
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True, help_text="Where in the portal to look (a path).")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self):
        return f"{self.recipient}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
