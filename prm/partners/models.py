"""Partners, the program tiers they sit in, and the lifecycle stage they have reached."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from prm.core.tenancy import CatalogueQuerySet, Tenancy, TenantQuerySet
from prm.core.validators import normalize_domain_field


class Stage(models.TextChoices):
    """The lifecycle the portal follows a partner through, in order."""

    RECRUIT = "recruit", "Recruit"
    ONBOARD = "onboard", "Onboard"
    ENABLE = "enable", "Enable"
    MARKET = "market", "Market"
    SELL = "sell", "Sell"
    INCENTIVIZE = "incentivize", "Incentivize"
    ACCELERATE = "accelerate", "Accelerate"


class Tier(models.Model):
    """A level of the partner program (Registered, Silver, Gold …); rank orders them."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    rank = models.PositiveSmallIntegerField(unique=True, help_text="1 is the entry tier.")
    description = models.TextField(blank=True)

    objects = CatalogueQuerySet.as_manager()

    class Meta:
        ordering = ["rank"]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.code,)


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

    tenancy = Tenancy(partner="partner", reps_see_all=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-changed_at", "-pk"]

    def __str__(self):
        return f"{self.partner}: {self.from_stage or '—'} → {self.to_stage}"
