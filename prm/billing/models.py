"""Invoices: what a subscription owes for one billing period, line by line, and its corrections.

An invoice is a draft (the customer's live estimate, recomputed from usage) until its period is
closed; then it is finalized — numbered and immutable. A mistake on a finalized invoice is
corrected by a credit note, or the whole invoice is voided; it is never edited.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse

from prm.core.money import CURRENCY_CHOICES, MONEY_MAX_DIGITS, money_string
from prm.core.tenancy import Tenancy, TenantQuerySet

# Three places hold the minor unit of every currency we bill in (KWD, BHD have three).
MONEY_PLACES = 3


def money_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES, **kwargs)


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft (estimate)"
    FINALIZED = "finalized", "Finalized"
    VOID = "void", "Void"


class Invoice(models.Model):
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="invoices")
    subscription = models.ForeignKey("customers.Subscription", on_delete=models.PROTECT, related_name="invoices")
    plan_version = models.ForeignKey("plans.PlanVersion", on_delete=models.PROTECT, related_name="invoices")
    period = models.CharField(max_length=7, help_text="The billing period, YYYY-MM (a UTC calendar month).")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField(help_text="Exclusive: the first instant after the period.")
    # The part of the period the subscription was active: usage is read and flat fees prorated over it.
    service_start = models.DateTimeField()
    service_end = models.DateTimeField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    status = models.CharField(max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    number = models.CharField(max_length=32, null=True, blank=True, unique=True, help_text="Assigned on finalizing.")
    subtotal = money_field(
        default=0, help_text="The plan's charges (usage and flat fees), before the true-up, packs and credits."
    )
    total = money_field(
        default=0,
        help_text="What is owed: subtotal + minimum-commitment true-up + credit packs bought − credits applied.",
    )
    credited = money_field(default=0, help_text="The sum of this invoice's credit notes.")
    rated_at = models.DateTimeField(help_text="When the lines were last computed from usage.")
    finalized_at = models.DateTimeField(null=True, blank=True)
    finalized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    void_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    tenancy = Tenancy(partner="customer__reseller", customer="customer", rep="customer__assigned_rep")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-period", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "period"], name="invoice_one_per_subscription_period"),
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(number__isnull=False),
                name="invoice_numbered_once_finalized",
            ),
            models.CheckConstraint(condition=models.Q(credited__lte=models.F("total")), name="invoice_credit_le_total"),
        ]
        indexes = [models.Index(fields=["period", "status"])]

    def __str__(self):
        return self.number or f"Draft {self.period} · {self.subscription.external_id}"

    def get_absolute_url(self):
        return reverse("invoice_detail", args=[self.pk])

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT

    @property
    def creditable(self):
        """What credit notes may still give back."""
        return self.total - self.credited


class InvoiceLine(models.Model):
    """One priced charge (or the minimum-commitment true-up, a credit pack bought, the prepaid
    credits applied), with what produced it."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    metric = models.ForeignKey("plans.Metric", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    model = models.CharField(
        max_length=20,
        help_text="The charge model; minimum_commitment (the true-up), credit_pack or prepaid_credit (negative).",
    )
    quantity = models.DecimalField(max_digits=40, decimal_places=6)
    amount = money_field()
    description = models.TextField()
    charge = models.JSONField(help_text="The charge definition priced (the pricing contract's shape).")
    tiers = models.JSONField(default=list, blank=True, help_text="The tiers applied, amounts as strings.")

    tenancy = Tenancy(
        partner="invoice__customer__reseller", customer="invoice__customer", rep="invoice__customer__assigned_rep"
    )
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position_unique")]

    def __str__(self):
        return f"{self.invoice} · {self.position + 1}: {self.description}"


class CreditNote(models.Model):
    """Money given back on a finalized invoice; numbered gaplessly in its own sequence."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=32, unique=True)
    amount = money_field()
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    tenancy = Tenancy(
        partner="invoice__customer__reseller", customer="invoice__customer", rep="invoice__customer__assigned_rep"
    )
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="credit_note_amount_positive")]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return self.invoice.get_absolute_url()


class DocumentSequence(models.Model):
    """The last number given to a kind of document ("invoice", "credit_note").

    Numbers are taken inside the transaction that issues the document, with this row locked:
    a rolled-back issue rolls the counter back too, so the numbers have no gaps.
    """

    name = models.CharField(max_length=40, unique=True)
    last_number = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.name}: {self.last_number}"


# --- prepaid credits --------------------------------------------------------------------------


class CreditGrantSource(models.TextChoices):
    PURCHASE = "purchase", "Credit pack bought"
    GOODWILL = "goodwill", "Goodwill credit"


class CreditGrantQuerySet(TenantQuerySet):
    def with_balance(self):
        """Load what `balance` needs (the drawdowns of finalized invoices) in one query for all rows."""
        spent = CreditDrawdown.objects.filter(invoice__status=InvoiceStatus.FINALIZED)
        return self.prefetch_related(models.Prefetch("drawdowns", queryset=spent, to_attr="spent_drawdowns"))


class CreditGrant(models.Model):
    """Prepaid credits of a customer, money in one currency: a plan's credit pack bought, or a
    channel manager's goodwill grant. Invoices in that currency draw them down before anything is
    charged (billing/credits.py); what remains is `credits` − the drawdowns of finalized invoices,
    so voiding an invoice gives its credits back.

    A pack's price is billed on its subscription's invoice for the period it was bought in.
    """

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="credit_grants")
    subscription = models.ForeignKey(
        "customers.Subscription",
        on_delete=models.PROTECT,
        related_name="credit_grants",
        help_text="The subscription whose plan offered the pack (its invoice bills the price), or that a "
        "goodwill grant was made on.",
    )
    source = models.CharField(max_length=10, choices=CreditGrantSource.choices)
    name = models.CharField(max_length=200, help_text="The pack's name, or “Goodwill credit”.")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    credits = money_field(help_text="Credits granted, in the currency: 1 credit pays 1 unit of it.")
    price = money_field(default=0, help_text="What the customer pays for the pack; 0 for goodwill.")
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Invoices of periods starting at or after this do not draw on it."
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    tenancy = Tenancy(partner="customer__reseller", customer="customer", rep="customer__assigned_rep")
    objects = CreditGrantQuerySet.as_manager()

    class Meta:
        ordering = ["-granted_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(credits__gt=0), name="credit_grant_credits_positive"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="credit_grant_price_not_negative"),
            models.CheckConstraint(
                condition=models.Q(source="purchase") | models.Q(price=0), name="credit_grant_goodwill_is_free"
            ),
            models.CheckConstraint(
                condition=models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=models.F("granted_at")),
                name="credit_grant_expires_after_granted",
            ),
        ]
        indexes = [models.Index(fields=["customer", "currency", "granted_at"])]

    def __str__(self):
        return f"{self.name} · {self.customer}"

    def get_absolute_url(self):
        return reverse("credit_grant_detail", args=[self.pk])

    @property
    def spent(self) -> Decimal:
        """Credits drawn by finalized invoices (prefetched by `with_balance()`, else one query)."""
        drawdowns = getattr(self, "spent_drawdowns", None)
        if drawdowns is None:
            drawdowns = self.drawdowns.filter(invoice__status=InvoiceStatus.FINALIZED)
        return sum((drawdown.amount for drawdown in drawdowns), Decimal(0))

    @property
    def balance(self) -> Decimal:
        return self.credits - self.spent


class CreditDrawdown(models.Model):
    """Credits of one grant spent by one invoice; written when the invoice is finalized, from
    its last rating. Kept when the invoice is voided (for the record) but no longer counted."""

    grant = models.ForeignKey(CreditGrant, on_delete=models.PROTECT, related_name="drawdowns")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_drawdowns")
    amount = money_field()
    created_at = models.DateTimeField(auto_now_add=True)

    tenancy = Tenancy(
        partner="grant__customer__reseller", customer="grant__customer", rep="grant__customer__assigned_rep"
    )
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["grant", "invoice"], name="credit_drawdown_once_per_invoice"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="credit_drawdown_amount_positive"),
        ]

    def __str__(self):
        return f"{self.amount} {self.grant.currency} of {self.grant} on {self.invoice}"


# --- recommendations ----------------------------------------------------------------------------


class RecommendationKind(models.TextChoices):
    PLAN = "plan", "Another plan"
    COMMITMENT = "commitment", "A lower commitment"


class RecommendationStatus(models.TextChoices):
    OPEN = "open", "Open"
    DISMISSED = "dismissed", "Dismissed"
    APPLIED = "applied", "Applied"
    SUPERSEDED = "superseded", "Superseded"


class Recommendation(models.Model):
    """Advice to a customer (and its partner): the same usage would have cost less on another plan,
    or under a lower commitment, over the last three closed billing periods.

    Computed by `prm/billing/recommendations.py` (its docstring states the method) when a period
    closes; one open recommendation per subscription at most. `periods` keeps each period's figures
    as Decimal strings: what was paid, what the alternative would have cost, the saving, and the
    usage that drove it.
    """

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="recommendations")
    subscription = models.ForeignKey("customers.Subscription", on_delete=models.PROTECT, related_name="recommendations")
    kind = models.CharField(max_length=12, choices=RecommendationKind.choices)
    current_plan_version = models.ForeignKey(
        "plans.PlanVersion",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The plan the periods were billed on.",
    )
    current_commitment = money_field(
        null=True, blank=True, help_text="The subscription's own commitment when computed (empty: the plan's minimum)."
    )
    target_plan_version = models.ForeignKey(
        "plans.PlanVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For a plan recommendation: the plan version the usage was re-priced on.",
    )
    target_commitment = money_field(
        null=True, blank=True, help_text="For a commitment recommendation: the commitment suggested."
    )
    period = models.CharField(max_length=7, help_text="The last of the three periods compared, YYYY-MM.")
    periods = models.JSONField(help_text="Per period: actual, alternative, saving and usage, as Decimal strings.")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    actual_total = money_field(help_text="What the three periods cost on the current terms.")
    alternative_total = money_field(help_text="What they would have cost on the alternative.")
    saving = money_field(help_text="actual_total − alternative_total.")
    saving_percent = models.DecimalField(max_digits=7, decimal_places=2, help_text="saving ÷ actual_total × 100.")
    computed_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=RecommendationStatus.choices, default=RecommendationStatus.OPEN)
    decided_at = models.DateTimeField(null=True, blank=True, help_text="When it was dismissed, applied or superseded.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    tenancy = Tenancy(partner="customer__reseller", customer="customer", rep="customer__assigned_rep")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-period", "-saving", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription"],
                condition=models.Q(status="open"),
                name="recommendation_one_open_per_subscription",
            ),
            models.CheckConstraint(
                condition=(models.Q(kind="plan") & models.Q(target_plan_version__isnull=False))
                | (models.Q(kind="commitment") & models.Q(target_commitment__isnull=False)),
                name="recommendation_has_its_target",
            ),
            models.CheckConstraint(condition=models.Q(saving__gt=0), name="recommendation_saves_something"),
        ]
        indexes = [models.Index(fields=["status", "customer"])]

    def __str__(self):
        return f"{self.customer}: {self.advice}"

    def get_absolute_url(self):
        return reverse("recommendation_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status == RecommendationStatus.OPEN

    @property
    def first_period(self) -> str:
        return self.periods[0]["period"] if self.periods else self.period

    @property
    def advice(self) -> str:
        """What to change, in a few words ("Move to API Starter", "Lower the commitment to 700 USD")."""
        if self.kind == RecommendationKind.PLAN:
            return f"Move to {self.target_plan_version.plan.name}"
        return f"Lower the commitment to {money_string(self.target_commitment, self.currency)} {self.currency}"
