"""Filters of statements and payouts, shared by the portal list and the API."""

import django_filters

from prm.core.filtersets import period_bound, visible_choices
from prm.core.money import CURRENCY_CHOICES
from prm.incentives.models import Payout, Statement, StatementStatus
from prm.partners.models import Partner


class StatementFilterSet(django_filters.FilterSet):
    period = django_filters.CharFilter(help_text="YYYY-MM", label="Period (YYYY-MM)")
    period_from = period_bound("gte")
    period_to = period_bound("lte")
    status = django_filters.ChoiceFilter(choices=StatementStatus.choices)
    # Scoped choices: a partner admin sees only its own partner listed here.
    partner = django_filters.ModelChoiceFilter(queryset=visible_choices(Partner), label="Partner")
    currency = django_filters.ChoiceFilter(choices=CURRENCY_CHOICES)

    class Meta:
        model = Statement
        fields = ["period", "period_from", "period_to", "status", "partner", "currency"]


class PayoutFilterSet(django_filters.FilterSet):
    statement = django_filters.NumberFilter(field_name="statement_id")
    period = django_filters.CharFilter(field_name="statement__period", help_text="YYYY-MM", label="Period (YYYY-MM)")
    partner = django_filters.ModelChoiceFilter(
        field_name="statement__partner", queryset=visible_choices(Partner), label="Partner"
    )
    currency = django_filters.ChoiceFilter(choices=CURRENCY_CHOICES)

    class Meta:
        model = Payout
        fields = ["statement", "period", "partner", "currency"]
