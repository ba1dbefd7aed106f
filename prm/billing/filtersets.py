"""One FilterSet per listed model, shared by the portal list and the API."""

import django_filters

from prm.billing.models import (
    CreditGrant,
    CreditGrantSource,
    CreditNote,
    Invoice,
    InvoiceStatus,
    Recommendation,
    RecommendationKind,
    RecommendationStatus,
)
from prm.core.filtersets import period_bound, visible_choices
from prm.core.money import CURRENCY_CHOICES
from prm.customers.models import Customer
from prm.partners.models import Partner


class InvoiceFilterSet(django_filters.FilterSet):
    period = django_filters.CharFilter(help_text="YYYY-MM")
    period_from = period_bound("gte")
    period_to = period_bound("lte")
    currency = django_filters.ChoiceFilter(choices=CURRENCY_CHOICES)
    status = django_filters.ChoiceFilter(choices=InvoiceStatus.choices)
    # Scoped choices: a partner never sees another partner's customers listed here.
    customer = django_filters.ModelChoiceFilter(queryset=visible_choices(Customer), label="Customer")
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id", label="Customer id")
    number = django_filters.CharFilter(label="Number")
    # A partner's customers' invoices, or those of every partner in a tier (the dashboards drill down here).
    reseller = django_filters.ModelChoiceFilter(
        field_name="customer__reseller", queryset=visible_choices(Partner), label="Partner"
    )
    reseller_tier = django_filters.CharFilter(field_name="customer__reseller__tier__code", label="Partner tier (code)")

    class Meta:
        model = Invoice
        fields = [
            "period", "period_from", "period_to", "currency", "status", "customer", "customer_external_id", "number",
            "reseller", "reseller_tier",
        ]  # fmt: skip


class CreditNoteFilterSet(django_filters.FilterSet):
    invoice = django_filters.NumberFilter(field_name="invoice_id")
    period = django_filters.CharFilter(field_name="invoice__period", label="Period (YYYY-MM)")

    class Meta:
        model = CreditNote
        fields = ["invoice", "period"]


class CreditGrantFilterSet(django_filters.FilterSet):
    customer = django_filters.ModelChoiceFilter(queryset=visible_choices(Customer), label="Customer")
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id", label="Customer id")
    subscription = django_filters.CharFilter(field_name="subscription__external_id", label="Subscription id")
    source = django_filters.ChoiceFilter(choices=CreditGrantSource.choices)

    class Meta:
        model = CreditGrant
        fields = ["customer", "customer_external_id", "subscription", "source"]


class RecommendationFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=RecommendationStatus.choices)
    kind = django_filters.ChoiceFilter(choices=RecommendationKind.choices)
    customer = django_filters.ModelChoiceFilter(queryset=visible_choices(Customer), label="Customer")
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id", label="Customer id")
    subscription = django_filters.CharFilter(field_name="subscription__external_id", label="Subscription id")
    reseller = django_filters.ModelChoiceFilter(
        field_name="customer__reseller", queryset=visible_choices(Partner), label="Partner"
    )
    currency = django_filters.ChoiceFilter(choices=CURRENCY_CHOICES)
    period = django_filters.CharFilter(label="Last period compared (YYYY-MM)")

    class Meta:
        model = Recommendation
        fields = [
            "status", "kind", "customer", "customer_external_id", "subscription", "reseller", "currency", "period",
        ]  # fmt: skip
