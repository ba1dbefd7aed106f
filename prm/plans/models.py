"""Billable metrics, and plans with their versioned charges (priced by prm/plans/pricing.py)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse

from prm.core.money import CURRENCY_CHOICES, MONEY_MAX_DIGITS
from prm.core.tenancy import CatalogueQuerySet


class Aggregation(models.TextChoices):
    """How a period's events become one quantity."""

    COUNT = "count", "Count of events"
    SUM = "sum", "Sum of a property"
    MAX = "max", "Maximum of a property"
    UNIQUE_COUNT = "unique_count", "Count of distinct values of a property"
    LATEST = "latest", "Latest value of a property"


code_validator = RegexValidator(
    r"^[a-z][a-z0-9_.-]{0,63}$",
    "Use lower-case letters, digits, '_', '.' or '-' (up to 64), starting with a letter.",
)
field_validator = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", "A property name: letters, digits and '_' (up to 64)."
)


class Metric(models.Model):
    """What is metered: the event type it counts and how its events aggregate."""

    code = models.CharField(
        max_length=64,
        unique=True,
        validators=[code_validator],
        help_text="The event's CloudEvents `type` (Lago `code`), e.g. api_calls.",
    )
    name = models.CharField(max_length=120)
    unit = models.CharField(max_length=40, help_text="What one unit is, e.g. call, GB, machine-hour.")
    aggregation = models.CharField(max_length=20, choices=Aggregation.choices)
    field = models.CharField(
        max_length=64,
        blank=True,
        validators=[field_validator],
        help_text="The property that carries the value (sum, max, latest) or the distinct key (unique_count).",
    )
    allow_negative = models.BooleanField(
        default=False, help_text="Whether a negative value (a correction, a refund of units) is accepted."
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CatalogueQuerySet.as_manager()

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"

    def get_absolute_url(self):
        return reverse("metric_edit", args=[self.pk])

    def clean(self):
        if self.aggregation == Aggregation.COUNT:
            self.field = ""  # a count needs no property: every event is one
        elif not self.field:
            raise ValidationError({"field": f"A {self.get_aggregation_display().lower()} needs the property to read."})


class PlanInterval(models.TextChoices):
    MONTH = "month", "Monthly"


class Plan(models.Model):
    """A price list customers subscribe to. What it charges lives in its versions: editing a
    plan that subscriptions use adds a version, and running subscriptions keep theirs."""

    code = models.CharField(max_length=64, unique=True, validators=[code_validator])
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    interval = models.CharField(max_length=10, choices=PlanInterval.choices, default=PlanInterval.MONTH)
    is_active = models.BooleanField(default=True, help_text="Inactive plans take no new subscriptions.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CatalogueQuerySet.as_manager()

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"

    def get_absolute_url(self):
        return reverse("plan_detail", args=[self.pk])

    @property
    def current_version(self) -> "PlanVersion":
        return self.versions.order_by("-version").first()


class PlanVersion(models.Model):
    """One immutable-once-used set of prices of a plan: charges in the pricing contract's JSON
    shape, the minimum commitment, prepaid credit packs and the features it unlocks."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    charges = models.JSONField(help_text="The pricing contract's charge objects.")
    # Three places hold any currency's minor unit (KWD); the service checks the plan's own.
    minimum_commitment = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=3, null=True, blank=True)
    credit_packs = models.JSONField(
        default=list, blank=True, help_text='Prepaid credit packs: [{"name", "price", "credits"}].'
    )
    entitlements = models.JSONField(default=list, blank=True, help_text="Feature codes this plan unlocks.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    objects = CatalogueQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "-version"]
        constraints = [models.UniqueConstraint(fields=["plan", "version"], name="plan_version_unique")]

    def __str__(self):
        return f"{self.plan.code} v{self.version}"
