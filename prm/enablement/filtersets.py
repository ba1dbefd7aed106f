"""One FilterSet per listed model, shared by the portal list and the API."""

import django_filters
from django.db.models import Q
from django.utils import timezone

from prm.core.filtersets import visible_choices, yes_no_filter
from prm.enablement.models import Certification, Course, Resource, ResourceKind
from prm.partners.models import Partner, Tier

CERTIFICATION_STATUS = [("active", "Active"), ("expired", "Expired")]


def _tiers(request):
    return Tier.objects.visible_to(request.user) if request is not None else Tier.objects.none()


class CertificationFilterSet(django_filters.FilterSet):
    course = django_filters.ModelChoiceFilter(queryset=visible_choices(Course), label="Course")
    course_code = django_filters.CharFilter(field_name="course__code", label="Course code")
    # Scoped choices: a partner never sees another partner's name listed here.
    partner = django_filters.ModelChoiceFilter(queryset=visible_choices(Partner), label="Partner")
    person = django_filters.CharFilter(field_name="person__email", lookup_expr="iexact", label="Person (email)")
    status = django_filters.ChoiceFilter(choices=CERTIFICATION_STATUS, method="filter_status", label="Status")

    class Meta:
        model = Certification
        fields = ["course", "course_code", "partner", "person", "status"]

    def filter_status(self, queryset, name, value):
        now = timezone.now()
        if value == "active":
            return queryset.filter(issued_at__lte=now, expires_at__gt=now)
        return queryset.filter(expires_at__lte=now)


class ResourceFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label="Search")
    kind = django_filters.ChoiceFilter(choices=ResourceKind.choices)
    co_brandable = yes_no_filter(label="Co-brandable")
    min_tier = django_filters.ModelChoiceFilter(queryset=_tiers, label="Minimum tier")

    class Meta:
        model = Resource
        fields = ["q", "kind", "co_brandable", "min_tier"]

    def filter_text(self, queryset, name, value):
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))


class CourseFilterSet(django_filters.FilterSet):
    code = django_filters.CharFilter()
    min_tier = django_filters.CharFilter(field_name="min_tier__code", label="Minimum tier (code)")

    class Meta:
        model = Course
        fields = ["code", "min_tier"]
