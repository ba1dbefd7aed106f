import django_filters
from django.db.models import Q

from prm.accounts.models import Role, User
from prm.core.filtersets import visible_choices, yes_no_filter
from prm.partners.models import (
    ApplicationStatus,
    EvaluationDirection,
    EvaluationStatus,
    Industry,
    Partner,
    PartnerApplication,
    Region,
    Stage,
    Tier,
    TierEvaluation,
)


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
    industry = django_filters.MultipleChoiceFilter(choices=Industry.choices)
    region = django_filters.MultipleChoiceFilter(choices=Region.choices)

    class Meta:
        model = Partner
        fields = ["q", "tier", "stage", "country", "channel_manager", "parent", "industry", "region"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(website_domain__icontains=value))


class TierEvaluationFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=EvaluationStatus.choices)
    period = django_filters.CharFilter(help_text="YYYY-MM")
    direction = django_filters.ChoiceFilter(choices=EvaluationDirection.choices)
    # Scoped choices: a partner never sees another partner's name listed here.
    partner = django_filters.ModelChoiceFilter(queryset=visible_choices(Partner), label="Partner")

    class Meta:
        model = TierEvaluation
        fields = ["status", "period", "direction", "partner"]


class TierFilterSet(django_filters.FilterSet):
    mdf_eligible = yes_no_filter(label="MDF eligible")

    class Meta:
        model = Tier
        fields = ["mdf_eligible"]


class PartnerApplicationFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.ChoiceFilter(choices=ApplicationStatus.choices)
    industry = django_filters.ChoiceFilter(choices=Industry.choices)
    region = django_filters.ChoiceFilter(choices=Region.choices)
    country = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = PartnerApplication
        fields = ["q", "status", "industry", "region", "country"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(company__icontains=value) | Q(website__icontains=value) | Q(contact_email__icontains=value)
        )


class OnboardingFilterSet(django_filters.FilterSet):
    """The onboarding pipeline: partners in the onboard stage."""

    q = django_filters.CharFilter(method="search", label="Search")
    tier = django_filters.ModelChoiceFilter(queryset=Tier.objects.all(), to_field_name="code", label="Tier")
    region = django_filters.ChoiceFilter(choices=Region.choices)
    channel_manager = django_filters.ModelChoiceFilter(queryset=visible_choices(User, membership__role=Role.MANAGER))

    class Meta:
        model = Partner
        fields = ["q", "tier", "region", "channel_manager"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(website_domain__icontains=value))
