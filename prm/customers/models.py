"""Customers: the businesses that consume the vendor's product through a reseller partner."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse

from prm.core.money import CURRENCY_CHOICES
from prm.core.tenancy import Tenancy, TenantQuerySet
from prm.core.validators import normalize_domain_field


class UseCase(models.TextChoices):
    """What the customer consumes; it decides which plan and metrics suit them."""

    SAAS_SEATS = "saas_seats", "SaaS billed per user"
    API_CALLS = "api_calls", "API calls"
    STORAGE = "storage", "Storage (GB-months)"
    MANUFACTURING = "manufacturing", "Manufacturing (machine-hours, units)"
    IOT = "iot", "IoT sensor events"


external_id_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$",
    "Use letters, digits, '.', '_', ':' or '-' (up to 100), starting with a letter or digit.",
)


class Customer(models.Model):
    reseller = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="customers")
    external_id = models.CharField(
        max_length=100,
        unique=True,
        validators=[external_id_validator],
        help_text="The id your metering sends as the event subject, e.g. cus_acme.",
    )
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=253, help_text="For example acme.com")
    use_case = models.CharField(max_length=20, choices=UseCase.choices)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="USD")
    assigned_rep = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_customers",
        help_text="The reseller's salesperson who looks after this customer.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    tenancy = Tenancy(partner="reseller", customer="pk", rep="assigned_rep")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("customer_detail", args=[self.pk])

    def clean(self):
        normalize_domain_field(self, "domain")
        if self.assigned_rep_id and self.reseller_id:
            membership = self.assigned_rep.membership_or_none
            if membership is None or membership.partner_id != self.reseller_id:
                raise ValidationError({"assigned_rep": "The assigned rep must be a member of the reseller partner."})


@dataclass(frozen=True)
class Terms:
    plan_version_id: int
    commitment: Decimal | None


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"


class Subscription(models.Model):
    """A customer on a plan version. Its external id is what Lago-shaped usage names
    (`external_subscription_id`); the version's prices hold until the subscription is moved."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="subscriptions")
    plan_version = models.ForeignKey("plans.PlanVersion", on_delete=models.PROTECT, related_name="subscriptions")
    external_id = models.CharField(
        max_length=100, unique=True, validators=[external_id_validator], help_text="e.g. sub_acme_api"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    commitment = models.DecimalField(
        max_digits=20, decimal_places=3, null=True, blank=True,
        help_text="The customer's committed spend per period, if it differs from the plan's minimum.",
    )  # fmt: skip
    status = models.CharField(max_length=10, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    tenancy = Tenancy(partner="customer__reseller", customer="customer", rep="customer__assigned_rep")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True) | models.Q(ended_at__gt=models.F("started_at")),
                name="subscription_ends_after_it_starts",
            )
        ]

    def __str__(self):
        return f"{self.external_id} ({self.plan_version})"

    def get_absolute_url(self):
        return reverse("subscription_detail", args=[self.pk])

    def terms_at(self, moment, changes=None) -> "Terms":
        """The plan version and commitment in force at `moment`.

        The subscription's own fields hold the latest terms (a scheduled change included); walking
        back through the changes that take effect after `moment` undoes them. `changes` may be
        passed when already loaded (any order; cancelled ones are skipped).
        """
        if changes is None:
            changes = self.changes.filter(cancelled_at__isnull=True)
        plan_version_id, commitment = self.plan_version_id, self.commitment
        for change in sorted(changes, key=lambda change: change.effective_at, reverse=True):
            if change.cancelled_at is not None or change.effective_at <= moment:
                continue
            if change.kind == ChangeKind.PLAN:
                plan_version_id = change.from_plan_version_id
            else:
                commitment = change.from_commitment
        return Terms(plan_version_id=plan_version_id, commitment=commitment)

    def clean(self):
        if self.plan_version_id and self.customer_id and self.plan_version.plan.currency != self.customer.currency:
            raise ValidationError(
                {"plan_version": f"The plan is priced in {self.plan_version.plan.currency}; "
                 f"{self.customer} is billed in {self.customer.currency}."}
            )  # fmt: skip


class ChangeKind(models.TextChoices):
    PLAN = "plan", "Plan change"
    COMMITMENT = "commitment", "Commitment change"


class SubscriptionChange(models.Model):
    """One change of a subscription's terms, kept for good: the history, and what rating reads.

    A plan change takes effect at its moment (flat fees are prorated by time and usage is split
    there); a raised commitment at once, a lowered one at the end of a billing period (the
    flexible-contract rule). A change still in the future can be cancelled; it is then kept,
    marked cancelled, and no longer counts.
    """

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=12, choices=ChangeKind.choices)
    effective_at = models.DateTimeField()
    from_plan_version = models.ForeignKey(
        "plans.PlanVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="changes_from"
    )
    to_plan_version = models.ForeignKey(
        "plans.PlanVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="changes_to"
    )
    from_commitment = models.DecimalField(max_digits=20, decimal_places=3, null=True, blank=True)
    to_commitment = models.DecimalField(max_digits=20, decimal_places=3, null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    tenancy = Tenancy(
        partner="subscription__customer__reseller",
        customer="subscription__customer",
        rep="subscription__customer__assigned_rep",
    )
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-effective_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="plan")
                | (models.Q(from_plan_version__isnull=False) & models.Q(to_plan_version__isnull=False)),
                name="subscription_change_plan_versions",
            )
        ]

    def __str__(self):
        return f"{self.subscription.external_id}: {self.summary}"

    @property
    def summary(self) -> str:
        if self.kind == ChangeKind.PLAN:
            return f"plan {self.from_plan_version} → {self.to_plan_version}"
        return f"commitment {_commitment(self.from_commitment)} → {_commitment(self.to_commitment)}"

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None


def _commitment(value) -> str:
    return "the plan's minimum" if value is None else f"{value.normalize():f}"
