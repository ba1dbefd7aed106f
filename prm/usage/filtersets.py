"""One FilterSet per listed model, shared by the portal lists and the API."""

import django_filters
from django.db.models import Q

from prm.core.filtersets import visible_choices
from prm.customers.models import Customer
from prm.plans.models import Metric
from prm.usage.models import EventFormat, EventStatus, QuarantinedEvent, QuarantineReason, QuarantineStatus, UsageEvent


class EventFilterSet(django_filters.FilterSet):
    customer = django_filters.CharFilter(field_name="customer__external_id", label="Customer id")
    customer_name = django_filters.ModelChoiceFilter(
        field_name="customer", queryset=visible_choices(Customer), label="Customer"
    )
    metric = django_filters.ModelChoiceFilter(
        field_name="metric", to_field_name="code", queryset=Metric.objects.all(), label="Metric"
    )
    status = django_filters.ChoiceFilter(choices=EventStatus.choices)
    format = django_filters.ChoiceFilter(choices=EventFormat.choices)
    source = django_filters.CharFilter()
    event_id = django_filters.CharFilter(label="Event id")
    timestamp_after = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte", label="From")
    timestamp_before = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt", label="Until")

    class Meta:
        model = UsageEvent
        fields = ["customer", "customer_name", "metric", "status", "format", "source", "event_id"]


class QuarantineFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    reason = django_filters.ChoiceFilter(choices=QuarantineReason.choices)
    status = django_filters.ChoiceFilter(choices=QuarantineStatus.choices)
    metric_code = django_filters.CharFilter(label="Metric code")
    customer_external_id = django_filters.CharFilter(label="Customer id")

    class Meta:
        model = QuarantinedEvent
        fields = ["q", "reason", "status", "metric_code", "customer_external_id", "format"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(event_id__icontains=value)
            | Q(source__icontains=value)
            | Q(customer_external_id__icontains=value)
            | Q(metric_code__icontains=value)
        )
