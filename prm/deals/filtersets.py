"""One FilterSet for deal registrations, shared by the portal's pipeline and the API."""

import django_filters

from prm.core.filtersets import visible_choices, yes_no_filter
from prm.deals.models import DealRegistration, DealStatus
from prm.partners.models import Partner


class DealFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DealStatus.choices)
    # Scoped choices: a partner sees only itself listed here.
    partner = django_filters.ModelChoiceFilter(queryset=visible_choices(Partner), label="Partner")
    has_conflicts = yes_no_filter(label="Conflicts")
    domain = django_filters.CharFilter(lookup_expr="icontains", label="Domain")
    company = django_filters.CharFilter(lookup_expr="icontains", label="Company")
    plan = django_filters.CharFilter(field_name="plan__code", label="Plan code")

    class Meta:
        model = DealRegistration
        fields = ["status", "partner", "has_conflicts", "domain", "company", "plan"]
