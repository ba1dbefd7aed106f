import django_filters
from django.db.models import Q

from prm.plans.models import Aggregation, Metric, Plan


class MetricFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    aggregation = django_filters.ChoiceFilter(choices=Aggregation.choices)

    class Meta:
        model = Metric
        fields = ["q", "aggregation"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value))


class PlanFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")

    class Meta:
        model = Plan
        fields = ["q", "currency", "is_active"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value))
