import django_filters
from django.db.models import Q

from prm.accounts.models import Role, User
from prm.core.filtersets import visible_choices
from prm.partners.models import Partner, Stage, Tier


class PartnerFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    tier = django_filters.ModelMultipleChoiceFilter(
        queryset=Tier.objects.all(), field_name="tier", to_field_name="code", label="Tier"
    )
    stage = django_filters.MultipleChoiceFilter(choices=Stage.choices)
    country = django_filters.CharFilter(lookup_expr="iexact")
    channel_manager = django_filters.ModelChoiceFilter(queryset=visible_choices(User, membership__role=Role.MANAGER))
    parent = django_filters.ModelChoiceFilter(
        queryset=visible_choices(Partner, resellers__isnull=False), label="Distributor"
    )

    class Meta:
        model = Partner
        fields = ["q", "tier", "stage", "country", "channel_manager", "parent"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(website_domain__icontains=value))
