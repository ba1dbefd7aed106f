"""FilterSets of commission rules and the commission ledger, shared by the portal and the API."""

import django_filters
from django.db.models import Q

from prm.core.filtersets import period_bound, visible_choices, yes_no_filter
from prm.core.money import CURRENCY_CHOICES
from prm.core.periods import BillingPeriod
from prm.customers.models import Customer
from prm.incentives.models import CommissionEntry, CommissionRule, RuleKind
from prm.partners.models import Partner


class CommissionRuleFilterSet(django_filters.FilterSet):
    code = django_filters.CharFilter(label="Code")
    kind = django_filters.ChoiceFilter(choices=RuleKind.choices)
    in_force = django_filters.CharFilter(method="filter_in_force", label="In force in (YYYY-MM)")
    is_active = yes_no_filter(label="Active")

    class Meta:
        model = CommissionRule
        fields = ["code", "kind", "in_force", "is_active"]

    def filter_in_force(self, queryset, name, value):
        try:
            period = str(BillingPeriod.parse(value.strip()))
        except ValueError:
            return queryset.none()
        return queryset.filter(effective_from__lte=period).filter(Q(effective_to="") | Q(effective_to__gte=period))


class CommissionEntryFilterSet(django_filters.FilterSet):
    period = django_filters.CharFilter(label="Period (YYYY-MM)")
    period_from = period_bound("gte")
    period_to = period_bound("lte")
    # Scoped choices: a partner never sees another partner's (or customer's) name listed here.
    partner = django_filters.ModelChoiceFilter(queryset=visible_choices(Partner), label="Partner")
    customer = django_filters.ModelChoiceFilter(queryset=visible_choices(Customer), label="Customer")
    rule = django_filters.ModelChoiceFilter(queryset=visible_choices(CommissionRule), label="Rule")
    rule_code = django_filters.CharFilter(field_name="rule__code", label="Rule code")
    statement = django_filters.NumberFilter(field_name="statement_id", label="Statement")
    invoice = django_filters.NumberFilter(field_name="invoice_id", label="Invoice")
    currency = django_filters.ChoiceFilter(choices=CURRENCY_CHOICES)

    class Meta:
        model = CommissionEntry
        fields = [
            "period", "period_from", "period_to", "partner", "customer", "rule", "rule_code", "statement", "invoice",
            "currency",
        ]  # fmt: skip
