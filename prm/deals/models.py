"""Deal registration: a partner claims an opportunity before selling it, so two partners (or a partner
and the vendor's existing book) do not chase the same customer.

    submitted ──approve──▶ approved (protected for settings.PRM_DEAL_PROTECTION_DAYS) ──won──▶ won
        │                      └──lost──▶ lost                                          (a Customer
        └──reject──▶ rejected   submitted ──lost──▶ lost                                 + Subscription)

A registration is compared with the vendor's customers and the other partners' open registrations
by domain and by normalized company name (prm/deals/names.py); what it collides with is kept in
`conflicts` for the channel manager who decides (prm/deals/conflicts.py).
"""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from prm.core.tenancy import Tenancy, TenantQuerySet
from prm.customers.models import UseCase


class DealStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WON = "won", "Won"
    LOST = "lost", "Lost"


# A registration another one may collide with: waiting for a decision, or approved and protected.
OPEN_STATUSES = (DealStatus.SUBMITTED, DealStatus.APPROVED)


class DealRegistration(models.Model):
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="deal_registrations")
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="registered_deals"
    )
    company = models.CharField(max_length=200, help_text="The prospect's company name.")
    company_key = models.CharField(
        max_length=200, db_index=True, editable=False, help_text="The normalized company name compared for conflicts."
    )
    domain = models.CharField(max_length=253, db_index=True, help_text="The prospect's web domain, e.g. acme.com.")
    use_case = models.CharField(
        max_length=20, choices=UseCase.choices, blank=True, help_text="What the customer will consume."
    )
    expected_usage = models.JSONField(
        default=dict, blank=True, help_text='Expected monthly usage per metric: {"api_calls": "2500000"}.'
    )
    plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="deal_registrations")
    expected_close = models.DateField()
    notes = models.TextField(blank=True, max_length=4000)
    status = models.CharField(max_length=10, choices=DealStatus.choices, default=DealStatus.SUBMITTED)
    # What the registration collides with (see prm/deals/conflicts.py), refreshed at every step.
    conflicts = models.JSONField(default=list, blank=True)
    has_conflicts = models.BooleanField(default=False, db_index=True)
    decision_reason = models.CharField(max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    protected_until = models.DateTimeField(null=True, blank=True)
    # The pricing engine's quote of the plan over the expected usage, as it was computed.
    proposal = models.JSONField(null=True, blank=True)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="deal_registrations"
    )
    subscription = models.ForeignKey(
        "customers.Subscription", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lost_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    # Partner admins see their partner's registrations, reps the ones they registered.
    tenancy = Tenancy(partner="partner", rep="registered_by")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "deal registration"
        indexes = [models.Index(fields=["status", "protected_until"])]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="won") | models.Q(customer__isnull=False),
                name="deal_won_has_customer",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="approved") | models.Q(protected_until__isnull=False),
                name="deal_approved_is_protected",
            ),
        ]

    def __str__(self):
        return f"{self.company} ({self.domain})"

    def get_absolute_url(self):
        return reverse("deal_detail", args=[self.pk])

    @property
    def currency(self) -> str:
        return self.plan.currency

    def is_protected(self, now=None) -> bool:
        now = now or timezone.now()
        return self.status == DealStatus.APPROVED and self.protected_until is not None and self.protected_until > now
