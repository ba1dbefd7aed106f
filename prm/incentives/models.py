"""Incentives: what partners earn on their customers' consumption, and how it is paid.

    finalized InvoiceLine ──(CommissionRule in force for the period)──▶ CommissionEntry
    CreditNote / void ──▶ negative CommissionEntry (clawback)
    CommissionEntry* ──▶ Statement (partner · period · currency) ──approve──▶ Payout

Money is in the invoice's currency throughout: a partner whose customers pay in two currencies
gets a statement per currency, so no figure ever passes through an exchange rate.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from prm.core.money import CURRENCY_CHOICES, MONEY_MAX_DIGITS
from prm.core.tenancy import CatalogueQuerySet, Tenancy, TenantQuerySet, scope_of

# Three places hold the minor unit of every currency we bill in (KWD has three).
MONEY_PLACES = 3


def money_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES, **kwargs)


def percent_field(**kwargs) -> models.DecimalField:
    """A rate in percent, 0–100 with up to 4 decimals (12.5 means 12.5 %)."""
    return models.DecimalField(
        max_digits=7, decimal_places=4, validators=[MinValueValidator(0), MaxValueValidator(100)], **kwargs
    )


class RuleKind(models.TextChoices):
    REVENUE_SHARE = "revenue_share", "Share of consumption revenue"
    NEW_CUSTOMER_BONUS = "new_customer_bonus", "New-customer bonus"
    GROWTH_ACCELERATOR = "growth_accelerator", "Growth accelerator"
    DISTRIBUTOR_OVERRIDE = "distributor_override", "Distributor override"


class CommissionRule(models.Model):
    """One version of a commission rule, in force for the billing periods [effective_from, effective_to].

    A rule is known by its `code`; changing it adds a version from a later period, so a program
    change never alters what was accrued (and stated) before. Versions of a code never overlap.

    - revenue_share: `rate` % of each finalized invoice line's amount (empty rate: the partner's
      tier's base commission rate), narrowed to a `tier`, `plan` or `metric` when set; for a
      customer's first `first_months` billing periods `first_months_rate` applies instead.
    - new_customer_bonus: `bonus_amount` (in `currency`) once, on a customer's first finalized invoice.
    - growth_accelerator: `rate` % of the growth of the partner's consumption revenue over the
      previous period (nothing when it shrank), accrued at the period close.
    - distributor_override: `rate` % of each line of a reseller's customers, earned by the
      reseller's parent distributor.
    `cap_amount` (in `currency`) bounds what one partner earns from this rule in one period.
    """

    code = models.SlugField(max_length=60)
    version = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=24, choices=RuleKind.choices)
    effective_from = models.CharField(max_length=7, help_text="First billing period it applies to, YYYY-MM.")
    effective_to = models.CharField(
        max_length=7, blank=True, help_text="Last billing period it applies to, YYYY-MM; empty: open-ended."
    )
    tier = models.ForeignKey("partners.Tier", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey("plans.Plan", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    metric = models.ForeignKey("plans.Metric", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rate = percent_field(null=True, blank=True)
    first_months = models.PositiveSmallIntegerField(null=True, blank=True)
    first_months_rate = percent_field(null=True, blank=True)
    bonus_amount = money_field(null=True, blank=True)
    currency = models.CharField(
        max_length=3, choices=CURRENCY_CHOICES, blank=True, help_text="The currency of the bonus and the cap."
    )
    cap_amount = money_field(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    # The program's rules are public to everyone signed in (partners see what they can earn).
    objects = CatalogueQuerySet.as_manager()

    class Meta:
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="commission_rule_version_unique"),
            models.CheckConstraint(condition=Q(cap_amount__isnull=True) | Q(cap_amount__gte=0), name="rule_cap_ge_0"),
            models.CheckConstraint(
                condition=Q(bonus_amount__isnull=True) | Q(bonus_amount__gte=0), name="rule_bonus_ge_0"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.code} v{self.version})"


class CommissionEntry(models.Model):
    """One line of a partner's commission ledger: what one rule earned on one invoice line (or,
    negative, what a credit note or a void took back). Never edited; corrections are new entries."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="commission_entries")
    # Empty for partner-wide entries (the growth accelerator), which no one customer earned.
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rule = models.ForeignKey(CommissionRule, on_delete=models.PROTECT, related_name="entries")
    invoice = models.ForeignKey("billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    invoice_line = models.ForeignKey(
        "billing.InvoiceLine", null=True, blank=True, on_delete=models.PROTECT, related_name="commission_entries"
    )
    credit_note = models.ForeignKey(
        "billing.CreditNote", null=True, blank=True, on_delete=models.PROTECT, related_name="commission_entries"
    )
    statement = models.ForeignKey("Statement", null=True, blank=True, on_delete=models.PROTECT, related_name="entries")
    period = models.CharField(max_length=7, help_text="The billing period it is earned in, YYYY-MM.")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    base_amount = money_field(help_text="What the rate was applied to (the line's amount, the growth …).")
    rate = percent_field(null=True, blank=True)
    amount = money_field(help_text="Rounded once to the currency's minor unit.")
    explanation = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    # Partner admins see their partner's ledger, reps the entries of customers assigned to them;
    # customers never see what their partner earns on them.
    tenancy = Tenancy(partner="partner", rep="customer__assigned_rep")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-period", "-pk"]
        indexes = [models.Index(fields=["partner", "period"]), models.Index(fields=["period", "currency"])]

    def __str__(self):
        return f"{self.partner} · {self.period}: {self.amount} {self.currency}"


class StatementStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    PAID = "paid", "Paid"
    CARRIED = "carried", "Negative: carried to the next period"


class Statement(models.Model):
    """A partner's commissions for one period in one currency: the sum of its entries plus what a
    negative previous statement carried forward. Draft → approved by a manager → paid."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="statements")
    period = models.CharField(max_length=7)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    status = models.CharField(max_length=10, choices=StatementStatus.choices, default=StatementStatus.DRAFT)
    carried_in = money_field(default=0, help_text="A negative balance carried from the previous statement.")
    entries_total = money_field(default=0)
    total = money_field(default=0, help_text="carried_in + the sum of the entries.")
    carried_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="carried_to"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    tenancy = Tenancy(partner="partner")  # the partner's own money: admins, not reps or customers
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-period", "partner", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "period", "currency"], name="statement_partner_period_currency")
        ]

    def __str__(self):
        return f"{self.partner} · {self.period} · {self.currency}"

    def get_absolute_url(self):
        return reverse("statement_detail", args=[self.pk])


class Payout(models.Model):
    """The payment of an approved statement, recorded by a manager."""

    statement = models.OneToOneField(Statement, on_delete=models.PROTECT, related_name="payout")
    amount = money_field()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    reference = models.CharField(max_length=200, help_text="The bank transfer or payment reference.")
    paid_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    tenancy = Tenancy(partner="statement__partner")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-paid_at", "-pk"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive")]

    def __str__(self):
        return f"{self.statement}: {self.amount} {self.currency} ({self.reference})"


# --- Market development funds (prm/incentives/mdf.py) -------------------------------------------

MDF_QUARTER = RegexValidator(r"^\d{4}-Q[1-4]$", "A quarter: YYYY-Qn, e.g. 2026-Q4.")


class MdfBudgetQuerySet(models.QuerySet):
    """Budgets are the vendor's: channel managers see them; a partner sees what its requests say."""

    def visible_to(self, user):
        return self.all() if scope_of(user).is_vendor else self.none()

    def locked_for(self, user, pk):
        return self.visible_to(user).select_for_update().get(pk=pk)


class MdfBudget(models.Model):
    """What the program spends on market development funds for one tier in one quarter.

    Budgets are per calendar quarter (YYYY-Qn), the rhythm partners plan campaigns in; a request
    draws on the budget of its partner's tier for the quarter its activity takes place in.
    """

    tier = models.ForeignKey("partners.Tier", on_delete=models.PROTECT, related_name="mdf_budgets")
    period = models.CharField(max_length=7, validators=[MDF_QUARTER], help_text="The quarter, YYYY-Qn.")
    amount = money_field(validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MdfBudgetQuerySet.as_manager()

    class Meta:
        ordering = ["-period", "tier__rank"]
        verbose_name = "MDF budget"
        constraints = [
            models.UniqueConstraint(fields=["tier", "period"], name="mdf_budget_one_per_tier_quarter"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="mdf_budget_amount_ge_0"),
        ]

    def __str__(self):
        return f"{self.tier} · {self.period}"

    def get_absolute_url(self):
        return reverse("mdf_budget_edit", args=[self.pk])


class MdfStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CLAIMED = "claimed", "Claimed"
    PAID = "paid", "Paid"


class MdfActivityType(models.TextChoices):
    EVENT = "event", "Event or trade show"
    WEBINAR = "webinar", "Webinar"
    DIGITAL = "digital", "Digital campaign"
    CONTENT = "content", "Content (case study, white paper)"
    TRAINING = "training", "Customer training"
    OTHER = "other", "Other"


def mdf_proof_path(instance, filename):
    """Proofs are stored under a name of our own, never the uploader's (prm/incentives/mdf.py names it)."""
    return f"mdf-proof/{instance.partner_id}/{filename}"


class MdfRequest(models.Model):
    """A partner's request for market development funds for one activity:
    requested → approved (drawing on its tier's budget) or rejected → claimed (with proof) → paid."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="mdf_requests")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    activity = models.CharField(max_length=200, help_text="What the funds pay for, e.g. a webinar series.")
    activity_type = models.CharField(max_length=10, choices=MdfActivityType.choices, default=MdfActivityType.OTHER)
    description = models.TextField(blank=True)
    activity_date = models.DateField(help_text="When the activity takes place; its quarter's budget pays.")
    period = models.CharField(max_length=7, validators=[MDF_QUARTER], help_text="The activity's quarter, YYYY-Qn.")
    amount = money_field(help_text="Requested (and, once approved, granted).")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    status = models.CharField(max_length=10, choices=MdfStatus.choices, default=MdfStatus.REQUESTED)
    budget = models.ForeignKey(MdfBudget, null=True, blank=True, on_delete=models.PROTECT, related_name="requests")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True, help_text="The manager's note on the decision.")
    claimed_amount = money_field(null=True, blank=True, help_text="What the activity cost, up to the approved amount.")
    proof_file = models.FileField(upload_to=mdf_proof_path, max_length=200, blank=True)
    proof_url = models.URLField(max_length=500, blank=True)
    proof_note = models.CharField(max_length=1000, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_reference = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    # The partner's own money: its admins see its requests, not its reps or customers.
    tenancy = Tenancy(partner="partner")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "MDF request"
        indexes = [models.Index(fields=["budget", "status"]), models.Index(fields=["status", "period"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="mdf_request_amount_positive"),
            models.CheckConstraint(
                condition=Q(claimed_amount__isnull=True)
                | (Q(claimed_amount__gt=0) & Q(claimed_amount__lte=models.F("amount"))),
                name="mdf_request_claim_within_amount",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "claimed", "paid"]) | Q(budget__isnull=False),
                name="mdf_request_granted_has_budget",
            ),
        ]

    def __str__(self):
        return f"{self.partner} · {self.activity}"

    def get_absolute_url(self):
        return reverse("mdf_request_detail", args=[self.pk])

    @property
    def committed(self):
        """What the request takes from its budget: the approved amount, or the claim once claimed."""
        if self.status == MdfStatus.APPROVED:
            return self.amount
        if self.status in (MdfStatus.CLAIMED, MdfStatus.PAID):
            return self.claimed_amount
        return None
