"""Customers: the businesses that consume the vendor's product through a reseller partner."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
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
        passed when already loaded (any order; cancelled, pending and rejected ones are skipped).
        """
        if changes is None:
            changes = self.changes.in_force()
        plan_version_id, commitment = self.plan_version_id, self.commitment
        for change in sorted(changes, key=lambda change: change.effective_at, reverse=True):
            # A cancelled, pending or rejected change never moved the stored terms: nothing to undo.
            if not change.in_force or change.effective_at <= moment:
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


class Approval(models.TextChoices):
    """Whether a change waited for a channel manager (the program's contract rules say which do)."""

    NOT_REQUIRED = "not_required", "Not required"
    PENDING = "pending", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


IN_FORCE = (Approval.NOT_REQUIRED, Approval.APPROVED)


class SubscriptionChangeQuerySet(TenantQuerySet):
    def in_force(self):
        """The changes that count for the terms and for rating: not cancelled, and not waiting
        for (or refused) approval."""
        return self.filter(cancelled_at__isnull=True, approval__in=IN_FORCE)


class SubscriptionChange(models.Model):
    """One change of a subscription's terms, kept for good: the history, and what rating reads.

    A plan change takes effect at its moment (flat fees are prorated by time and usage is split
    there); a raised commitment at once, a lowered one at the end of a billing period (the
    flexible-contract rule). A change still in the future can be cancelled; it is then kept,
    marked cancelled, and no longer counts.

    A change the contract rules send for approval is recorded pending: it leaves the subscription's
    fields (its latest terms) and rating alone until a channel manager approves it, when it takes
    effect by the same rules from that moment; a rejected one stays in the history, never counting.
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
    approval = models.CharField(max_length=12, choices=Approval.choices, default=Approval.NOT_REQUIRED)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)

    tenancy = Tenancy(
        partner="subscription__customer__reseller",
        customer="subscription__customer",
        rep="subscription__customer__assigned_rep",
    )
    objects = SubscriptionChangeQuerySet.as_manager()

    class Meta:
        ordering = ["-effective_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="plan")
                | (models.Q(from_plan_version__isnull=False) & models.Q(to_plan_version__isnull=False)),
                name="subscription_change_plan_versions",
            ),
            # A decision has a moment; a change nobody decided on has none.
            models.CheckConstraint(
                condition=models.Q(approval__in=["approved", "rejected"], decided_at__isnull=False)
                | models.Q(approval__in=["not_required", "pending"], decided_at__isnull=True),
                name="subscription_change_decided_at",
            ),
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

    @property
    def in_force(self) -> bool:
        return self.cancelled_at is None and self.approval in IN_FORCE

    @property
    def is_pending(self) -> bool:
        return self.cancelled_at is None and self.approval == Approval.PENDING

    def status_at(self, moment) -> str:
        """cancelled, rejected, pending (awaiting approval), scheduled (not in effect yet) or effective."""
        if self.is_cancelled:
            return "cancelled"
        if self.approval == Approval.REJECTED:
            return "rejected"
        if self.approval == Approval.PENDING:
            return "pending"
        return "scheduled" if self.effective_at > moment else "effective"


def _commitment(value) -> str:
    return "the plan's minimum" if value is None else f"{value.normalize():f}"


# --- the program's contract rules ---------------------------------------------------------------


class PlanChoice(models.TextChoices):
    ALL = "all", "Every active plan in the customer's currency"
    CHOSEN = "chosen", "Only the plans chosen here"


class ApprovalRule(models.TextChoices):
    NONE = "none", "No approval needed"
    REDUCTIONS = "reductions", "Lowered commitments and plan downgrades"
    ALL = "all", "Every self-service change"


class ContractPolicy(models.Model):
    """The program's rules for self-service contract changes: what customer admins and partner
    admins may change themselves, and which changes wait for a channel manager's approval.

    One row for the program (created with these defaults on first read). Channel managers are
    the program: their own changes follow only the billing rules, never these.
    """

    customer_self_service = models.BooleanField(
        "Customers serve themselves",
        default=True,
        help_text="Customer admins may change their own subscriptions' plan and commitment within these rules "
        "(their partner's admins always may).",
    )
    plan_choice = models.CharField(
        "Plans to choose from", max_length=10, choices=PlanChoice.choices, default=PlanChoice.ALL
    )
    self_service_plans = models.ManyToManyField(
        "plans.Plan",
        blank=True,
        related_name="+",
        verbose_name="Chosen plans",
        help_text="Used when only chosen plans may be picked (and only those in the customer's currency).",
    )
    commitment_minimum = models.DecimalField(
        "Lowest commitment", max_digits=20, decimal_places=3, null=True, blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="The lowest commitment per period a customer may set, in the subscription's currency; never "
        "below the plan's own minimum either. Empty: only the plan's minimum.",
    )  # fmt: skip
    commitment_step = models.DecimalField(
        "Commitment step", max_digits=20, decimal_places=3, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0.001"))],
        help_text="A commitment must be a multiple of this, e.g. 50. Empty: any amount.",
    )  # fmt: skip
    lowering_notice_days = models.PositiveSmallIntegerField(
        "Notice for a lowering (days)",
        default=0,
        validators=[MaxValueValidator(366)],
        help_text="A lowered commitment takes effect at the end of a billing period, asked for at least this many "
        "days before that end (asked without a date, it takes effect at the first end the notice allows).",
    )
    one_plan_change_per_period = models.BooleanField(
        "One plan change per period",
        default=True,
        help_text="At most one plan change (made, scheduled or awaiting approval) takes effect in a billing "
        "period of a subscription.",
    )
    approval = models.CharField(
        "Approval by a channel manager", max_length=12, choices=ApprovalRule.choices, default=ApprovalRule.NONE
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "contract rules"
        verbose_name_plural = "contract rules"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="contract_policy_single_row")]

    def __str__(self):
        return "Contract rules"

    def get_absolute_url(self):
        return reverse("contract_policy")

    def rules(self) -> list[str]:
        """The rules in words, for the pages where people change their contract."""
        plans = (
            "any active plan in the customer's currency"
            if self.plan_choice == PlanChoice.ALL
            else "one of " + (", ".join(plan.code for plan in self.self_service_plans.all()) or "no plan")
        )
        rules = [
            "Customer admins change their plan and commitment themselves."
            if self.customer_self_service
            else "Customers ask their partner to change their plan or commitment.",
            f"The plan to move to: {plans}.",
            "A commitment is never below the plan's minimum"
            + (f", nor below {_commitment(self.commitment_minimum)}" if self.commitment_minimum is not None else "")
            + (f", and is a multiple of {_commitment(self.commitment_step)}" if self.commitment_step else "")
            + ".",
            "A raised commitment takes effect at once; a lowered one at the end of a billing period"
            + (f", asked for at least {self.lowering_notice_days} days before it" if self.lowering_notice_days else "")
            + ".",
        ]
        if self.one_plan_change_per_period:
            rules.append("At most one plan change takes effect in a billing period.")
        rules.append(
            {
                ApprovalRule.NONE: "Changes take effect without approval.",
                ApprovalRule.REDUCTIONS: "A lowered commitment or a plan downgrade waits for a channel manager's "
                "approval; other changes take effect without it.",
                ApprovalRule.ALL: "Every change waits for a channel manager's approval.",
            }[self.approval]
        )
        return rules

    @classmethod
    def current(cls) -> "ContractPolicy":
        """The program's rules, created with the defaults the first time they are read."""
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy
