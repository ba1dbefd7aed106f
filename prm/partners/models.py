"""Partners, the program tiers they sit in, and the lifecycle stage they have reached.

The program's tiers carry their criteria (what a partner must reach) and benefits (what it gets);
a monthly evaluation (prm/operations/tier_evaluation.py) proposes moves between them with the
evidence, a channel manager confirms or dismisses each, and every tier move is kept.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from prm.core.money import CURRENCY_CHOICES, MONEY_MAX_DIGITS
from prm.core.tenancy import CatalogueQuerySet, Tenancy, TenantQuerySet
from prm.core.validators import normalize_domain_field

# Three places hold the minor unit of every currency (KWD has three), as in billing.
MONEY_PLACES = 3


def percent_field(*, minimum=0, maximum=100, **kwargs) -> models.DecimalField:
    """A percentage with up to 4 decimals (12.5 means 12.5 %), as the incentives app keeps rates."""
    validators = [MinValueValidator(minimum)]
    if maximum is not None:
        validators.append(MaxValueValidator(maximum))
    return models.DecimalField(max_digits=9, decimal_places=4, validators=validators, **kwargs)


class Stage(models.TextChoices):
    """The lifecycle the portal follows a partner through, in order."""

    RECRUIT = "recruit", "Recruit"
    ONBOARD = "onboard", "Onboard"
    ENABLE = "enable", "Enable"
    MARKET = "market", "Market"
    SELL = "sell", "Sell"
    INCENTIVIZE = "incentivize", "Incentivize"
    ACCELERATE = "accelerate", "Accelerate"


class Industry(models.TextChoices):
    """The industries partners serve and the vendor targets (applications, partners, target markets)."""

    MANUFACTURING = "manufacturing", "Manufacturing"
    SOFTWARE = "software", "Software"
    FINANCIAL_SERVICES = "financial_services", "Financial services"
    HEALTHCARE = "healthcare", "Healthcare"
    RETAIL = "retail", "Retail"
    PUBLIC_SECTOR = "public_sector", "Public sector"
    OTHER = "other", "Other"


class Region(models.TextChoices):
    NORTH_AMERICA = "north_america", "North America"
    LATAM = "latam", "Latin America"
    EMEA_NORTH = "emea_north", "EMEA North"
    EMEA_SOUTH = "emea_south", "EMEA South"
    APAC = "apac", "Asia-Pacific"


class Tier(models.Model):
    """A level of the partner program (Registered, Silver, Gold …); rank orders them.

    Criteria (each empty = no requirement) are what the monthly evaluation checks: the trailing
    twelve months' consumption revenue of the partner's customers (in the program currency,
    settings.PRM_PROGRAM_CURRENCY, other currencies converted at the reference `ExchangeRate`s),
    its active customers in the evaluated month, its certified people, and its month-over-month
    revenue growth. A partner qualifies for the highest-ranked tier whose every set criterion it
    meets; the entry tier (lowest rank) is the floor.
    """

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    rank = models.PositiveSmallIntegerField(unique=True, help_text="1 is the entry tier.")
    description = models.TextField(blank=True)
    # --- criteria
    min_trailing_revenue = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_PLACES,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        verbose_name="minimum trailing revenue",
        help_text="Consumption revenue of the partner's customers over the last 12 billing periods, in the program "
        "currency. Empty: no requirement.",
    )
    min_active_customers = models.PositiveIntegerField(
        null=True,
        blank=True,
        verbose_name="minimum active customers",
        help_text="Customers with a finalized invoice above zero in the evaluated month. Empty: no requirement.",
    )
    min_certified_people = models.PositiveIntegerField(
        null=True,
        blank=True,
        verbose_name="minimum certified people",
        help_text="Certified people at the partner (evaluated once enablement records certifications). "
        "Empty: no requirement.",
    )
    min_growth_percent = percent_field(
        minimum=-100,
        maximum=None,
        null=True,
        blank=True,
        verbose_name="minimum growth %",
        help_text="Growth of the partner's consumption revenue over the previous month, in percent. "
        "Empty: no requirement.",
    )
    # --- benefits
    base_commission_rate = percent_field(
        null=True,
        blank=True,
        verbose_name="base commission rate %",
        help_text="The commission rate of revenue-share rules that leave their rate empty, in percent (0–100).",
    )
    list_discount_percent = percent_field(
        default=0, verbose_name="discount on list price %", help_text="In percent (0–100)."
    )
    mdf_eligible = models.BooleanField(default=False, verbose_name="MDF eligible", help_text="May request MDF.")

    objects = CatalogueQuerySet.as_manager()

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_trailing_revenue__isnull=True) | Q(min_trailing_revenue__gte=0),
                name="tier_min_trailing_revenue_ge_0",
            ),
            models.CheckConstraint(
                condition=Q(min_growth_percent__isnull=True) | Q(min_growth_percent__gte=-100),
                name="tier_min_growth_percent_ge_minus_100",
            ),
            models.CheckConstraint(
                condition=Q(base_commission_rate__isnull=True)
                | Q(base_commission_rate__gte=0, base_commission_rate__lte=100),
                name="tier_base_commission_rate_0_100",
            ),
            models.CheckConstraint(
                condition=Q(list_discount_percent__gte=0, list_discount_percent__lte=100),
                name="tier_list_discount_percent_0_100",
            ),
        ]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.code,)

    def get_absolute_url(self):
        return reverse("tier_list") + f"#tier-{self.code}"


class ExchangeRateQuerySet(CatalogueQuerySet):
    def get_by_natural_key(self, currency):
        return self.get(currency=currency)


class ExchangeRate(models.Model):
    """A reference rate for comparing revenue billed in another currency with the tiers' thresholds.

    `rate` is how many units of the program currency (settings.PRM_PROGRAM_CURRENCY) one unit of
    `currency` is worth. It is used only to evaluate tier criteria — never for money that is paid
    or billed — and every evaluation records the rates it used.
    """

    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, unique=True)
    rate = models.DecimalField(
        max_digits=20,
        decimal_places=10,
        help_text="Program-currency units per 1 unit of this currency.",
    )
    updated_at = models.DateTimeField()

    objects = ExchangeRateQuerySet.as_manager()

    class Meta:
        ordering = ["currency"]
        constraints = [models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive")]

    def __str__(self):
        return f"1 {self.currency} = {self.rate} {settings.PRM_PROGRAM_CURRENCY}"

    def natural_key(self):
        return (self.currency,)

    def clean(self):
        if self.rate is not None and self.rate <= 0:
            raise ValidationError({"rate": "A rate is above zero."})


class Partner(models.Model):
    name = models.CharField(max_length=200)
    website_domain = models.CharField(max_length=253, unique=True, help_text="For example acme-consulting.com")
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 two-letter code")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="partners")
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.RECRUIT)
    channel_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_partners",
        help_text="The vendor's channel manager who owns this relationship.",
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="resellers",
        verbose_name="distributor",
        help_text="The distributor this partner resells through, in two-tier distribution.",
    )
    # Where the partner sells: the channel managers' coverage view compares them with target markets.
    industry = models.CharField(max_length=30, choices=Industry.choices, default=Industry.OTHER)
    region = models.CharField(max_length=20, choices=Region.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # A partner's own users (reps included) see their partner's record.
    tenancy = Tenancy(partner="pk", reps_see_all=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("partner_detail", args=[self.pk])

    def clean(self):
        normalize_domain_field(self, "website_domain")
        self.country = (self.country or "").upper()
        if self.parent_id and self.parent_id == self.pk:
            raise ValidationError({"parent": "A partner cannot be its own distributor."})
        # Two-tier distribution has exactly two tiers; read from the database, not from a
        # possibly stale related instance.
        if self.parent_id and Partner.objects.filter(pk=self.parent_id, parent__isnull=False).exists():
            raise ValidationError({"parent": "A distributor cannot itself resell through another distributor."})
        if self.parent_id and self.pk and Partner.objects.filter(parent=self.pk).exists():
            raise ValidationError({"parent": "This partner is a distributor with resellers of its own."})
        if self.channel_manager_id and not self.channel_manager.is_manager:
            raise ValidationError({"channel_manager": "Choose a channel manager of the vendor."})


class PartnerStageChange(models.Model):
    """Every move of a partner between lifecycle stages, with why and who."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=20, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    reason = models.CharField(max_length=300)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    changed_at = models.DateTimeField()
    # A channel manager set the stage by hand: evidence older than this no longer moves the partner.
    is_override = models.BooleanField(default=False)

    tenancy = Tenancy(partner="partner", reps_see_all=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-changed_at", "-pk"]

    def __str__(self):
        return f"{self.partner}: {self.from_stage or '—'} → {self.to_stage}"


class PartnerTierChange(models.Model):
    """Every move of a partner between program tiers: a confirmed evaluation, or a manager's edit."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500)
    evaluation = models.ForeignKey(
        "TierEvaluation", null=True, blank=True, on_delete=models.PROTECT, related_name="tier_changes"
    )
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    changed_at = models.DateTimeField()

    # A partner's tier is no secret inside it: reps see its history like its lifecycle history.
    tenancy = Tenancy(partner="partner", reps_see_all=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-changed_at", "-pk"]

    def __str__(self):
        return f"{self.partner}: {self.from_tier or '—'} → {self.to_tier}"


class EvaluationDirection(models.TextChoices):
    UP = "up", "Upgrade"
    DOWN = "down", "Downgrade"
    STAY = "stay", "No change"


class EvaluationStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    CONFIRMED = "confirmed", "Confirmed"
    DISMISSED = "dismissed", "Dismissed"
    # The partner stays in its tier: nothing to decide, the month's evidence is kept for the
    # partner's progress ("what the next tier still needs") and for the record.
    RECORDED = "recorded", "No change (recorded)"


class TierEvaluation(models.Model):
    """One month's evaluation of a partner against the tiers' criteria, with the evidence.

    An upgrade or a downgrade is `proposed` until a channel manager confirms it (the partner's tier
    changes, a PartnerTierChange is written) or dismisses it; a partner that stays in its tier gets
    a `recorded` evaluation, nothing to decide. One evaluation per partner and period.

    `evidence` (JSON, amounts as strings): the trailing-12 revenue per currency, the rates used and
    the converted total, active customers, certified people, growth %, and for every tier which
    criteria were met or missed with the figures (prm/operations/tier_evaluation.py builds it).
    """

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="tier_evaluations")
    period = models.CharField(max_length=7, help_text="The evaluated billing period, YYYY-MM (the last of 12).")
    current_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    proposed_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(max_length=4, choices=EvaluationDirection.choices)
    evidence = models.JSONField()
    status = models.CharField(max_length=10, choices=EvaluationStatus.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # The evidence sums the revenue of all the partner's customers: its admins see it, not its
    # reps (who see only their own customers' figures), nor customers.
    tenancy = Tenancy(partner="partner")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-period", "partner__name", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "period"], name="tier_evaluation_one_per_partner_period"),
            # A partner that stays needs no decision; a move always does.
            models.CheckConstraint(
                condition=Q(direction="stay", status="recorded") | (~Q(direction="stay") & ~Q(status="recorded")),
                name="tier_evaluation_stay_is_recorded",
            ),
        ]
        indexes = [models.Index(fields=["status", "period"])]

    def __str__(self):
        return f"{self.partner} · {self.period}: {self.current_tier} → {self.proposed_tier}"

    def get_absolute_url(self):
        return reverse("tier_evaluation_detail", args=[self.pk])


# --- recruit: applications to join the program -----------------------------------------------


class ApplicationStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class PartnerApplication(models.Model):
    """A company's application to join the program, sent through the public form at /apply/.

    Channel managers review it (comments, then approve or reject with a reason). Approval creates
    the partner (entry tier, stage onboard) and invites the contact as its admin. One application
    per domain may wait for a decision at a time (a database constraint); a rejected company may
    apply again.
    """

    company = models.CharField(max_length=200)
    website = models.CharField(
        max_length=253,
        help_text="The company's domain, normalized as partners' are (acme.com, not www.Acme.com/about).",
    )
    country = models.CharField(max_length=2, help_text="ISO 3166 two-letter code")
    industry = models.CharField(max_length=30, choices=Industry.choices)
    region = models.CharField(max_length=20, choices=Region.choices)
    specialties = models.CharField(max_length=500, help_text="What the company does: integration, data platforms …")
    expected_customers = models.PositiveIntegerField(
        validators=[MaxValueValidator(100_000)], help_text="Customers the company expects to bring in its first year."
    )
    contact_name = models.CharField(max_length=150)
    contact_email = models.EmailField()
    message = models.CharField(max_length=2000, blank=True)
    status = models.CharField(max_length=10, choices=ApplicationStatus.choices, default=ApplicationStatus.RECEIVED)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)
    partner = models.OneToOneField(
        Partner,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="application",
        help_text="The partner created when the application was approved.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    # The vendor's: applicants have no account, and a partner never sees other companies' applications.
    tenancy = Tenancy()
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["website"], condition=Q(status="received"), name="application_one_pending_per_domain"
            ),
            models.CheckConstraint(
                condition=Q(status="approved", partner__isnull=False)
                | (~Q(status="approved") & Q(partner__isnull=True)),
                name="application_approved_has_partner",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"{self.company} ({self.website})"

    def get_absolute_url(self):
        return reverse("application_detail", args=[self.pk])

    def clean(self):
        normalize_domain_field(self, "website")
        self.country = (self.country or "").strip().upper()
        if not (len(self.country) == 2 and self.country.isascii() and self.country.isalpha()):
            raise ValidationError({"country": "Two letters of ISO 3166, such as US, DE or JP."})


class ApplicationComment(models.Model):
    """A channel manager's note on an application, for the other reviewers."""

    application = models.ForeignKey(PartnerApplication, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.CharField(max_length=2000)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    tenancy = Tenancy()
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"Comment on {self.application_id} by {self.author}"


# --- onboard: checklists per tier, tasks per partner ------------------------------------------


class OnboardingEvidence(models.TextChoices):
    """What completes an item by itself, once it is true (it may always be marked done by hand too)."""

    NONE = "", "Marked by hand"
    TEAM_INVITED = "team_invited", "A person the partner invited has joined"
    PROFILE_COMPLETED = "profile_completed", "The partner's country, region and industry are set"


class OnboardingTemplate(models.Model):
    """The onboarding checklist of a tier. A partner whose tier has none follows the nearest lower
    tier's; the items are read by everyone signed in, like the tiers."""

    tier = models.OneToOneField(Tier, on_delete=models.CASCADE, related_name="onboarding_template")
    name = models.CharField(max_length=120)

    objects = CatalogueQuerySet.as_manager()

    class Meta:
        ordering = ["tier__rank"]

    def __str__(self):
        return self.name


class OnboardingItem(models.Model):
    template = models.ForeignKey(OnboardingTemplate, on_delete=models.CASCADE, related_name="items")
    key = models.SlugField(max_length=40, help_text="agreement_accepted, payout_details …")
    title = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField(default=0)
    evidence = models.CharField(max_length=30, choices=OnboardingEvidence.choices, blank=True)

    objects = CatalogueQuerySet.as_manager()

    class Meta:
        ordering = ["template", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["template", "key"], name="onboarding_item_key_per_template")]

    def __str__(self):
        return self.title


class OnboardingTask(models.Model):
    """One checklist item for one partner: done when marked (who, when, a note)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="onboarding_tasks")
    item = models.ForeignKey(OnboardingItem, on_delete=models.PROTECT, related_name="tasks")
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    # Both sides follow the checklist: the partner's people (reps too) see it, its admins tick it.
    tenancy = Tenancy(partner="partner", reps_see_all=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["partner", "item__order", "pk"]
        constraints = [models.UniqueConstraint(fields=["partner", "item"], name="onboarding_task_once_per_item")]

    def __str__(self):
        return f"{self.partner}: {self.item}"


# --- strategize: target markets ----------------------------------------------------------------


class TargetMarket(models.Model):
    """A market (industry × region) the vendor wants covered, with its goals: partners selling
    there, and their customers' consumption over the trailing 12 billing periods in the program
    currency (settings.PRM_PROGRAM_CURRENCY). The coverage view (prm/operations/coverage.py)
    sets the figures against them."""

    industry = models.CharField(max_length=30, choices=Industry.choices)
    region = models.CharField(max_length=20, choices=Region.choices)
    goal_partners = models.PositiveIntegerField(help_text="Partners in the sell stage or later.")
    goal_consumption = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_PLACES,
        validators=[MinValueValidator(0)],
        help_text="Trailing-12-month consumption revenue, in the program currency.",
    )
    notes = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The vendor's strategy: channel managers only.
    tenancy = Tenancy()
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["industry", "region"]
        constraints = [
            models.UniqueConstraint(fields=["industry", "region"], name="target_market_one_per_cell"),
            models.CheckConstraint(condition=Q(goal_consumption__gte=0), name="target_market_goal_consumption_ge_0"),
        ]

    def __str__(self):
        return f"{self.get_industry_display()} · {self.get_region_display()}"

    def get_absolute_url(self):
        return reverse("coverage") + f"#market-{self.industry}-{self.region}"
