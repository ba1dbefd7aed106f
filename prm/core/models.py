from django.conf import settings
from django.db import models


class ClosedBillingPeriod(models.Model):
    """A month whose invoices are final: usage timestamped in it is quarantined, not counted.

    Written by the billing period close; read by usage ingestion. It lives in core because both
    need it and neither may import the other's direction of the flow.
    """

    period = models.CharField(max_length=7, unique=True, help_text="YYYY-MM")
    closed_at = models.DateTimeField(auto_now_add=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-period"]

    def __str__(self):
        return self.period


class AuditEntryQuerySet(models.QuerySet):
    """The audit log is the vendor's: channel managers read all of it, nobody else any of it."""

    def visible_to(self, user):
        from prm.core.tenancy import scope_of

        return self.all() if scope_of(user).is_vendor else self.none()


class AuditEntry(models.Model):
    """One configuration change or decision: who, when, what, and the changed fields before and after.

    Recorded by prm/core/audit.py in the transaction of the change itself; never edited.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    # Where the change came from, so work no person did still names its source: "web", "api",
    # "command close_period", "task period_close_task", "schedule alerts_evaluate_task".
    origin = models.CharField(
        max_length=100, blank=True, help_text="web, api, command <name>, task <name> or schedule <name>"
    )
    action = models.CharField(max_length=40, help_text="create, update, delete, or a decision such as approved")
    object_type = models.CharField(max_length=100, help_text="The model's label, e.g. plans.Plan")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    # The partner the change concerns (its webhook, its statement …), for filtering; an id rather than a
    # foreign key because core may not depend on the partners app.
    partner_id = models.BigIntegerField(null=True, blank=True, db_index=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return f"{self.action} {self.object_type} {self.object_repr}"

    @property
    def changed_fields(self) -> list[str]:
        return sorted(set(self.before) | set(self.after))
