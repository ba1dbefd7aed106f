"""Filters of MDF requests and budgets, shared by the portal lists and the API."""

import django_filters

from prm.core.filtersets import visible_choices
from prm.incentives.models import MdfActivityType, MdfBudget, MdfRequest, MdfStatus
from prm.partners.models import Partner, Tier


class MdfRequestFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=MdfStatus.choices)
    # Scoped choices: a partner admin sees only its own partner listed here.
    partner = django_filters.ModelChoiceFilter(queryset=visible_choices(Partner), label="Partner")
    period = django_filters.CharFilter(help_text="YYYY-Qn", label="Quarter (YYYY-Qn)")
    activity_type = django_filters.ChoiceFilter(choices=MdfActivityType.choices, label="Activity")

    class Meta:
        model = MdfRequest
        fields = ["status", "partner", "period", "activity_type"]


class MdfBudgetFilterSet(django_filters.FilterSet):
    tier = django_filters.ModelChoiceFilter(queryset=Tier.objects.all(), label="Tier")
    period = django_filters.CharFilter(help_text="YYYY-Qn", label="Quarter (YYYY-Qn)")

    class Meta:
        model = MdfBudget
        fields = ["tier", "period"]
