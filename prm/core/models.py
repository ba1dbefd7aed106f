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
