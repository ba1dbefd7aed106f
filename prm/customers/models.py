"""Customers: the businesses that consume the vendor's product through a reseller partner."""

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
