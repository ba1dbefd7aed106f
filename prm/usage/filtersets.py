"""One FilterSet per listed model, shared by the portal lists and the API."""

import django_filters
from django import forms
from django.db.models import Q

from prm.core.filtersets import visible_choices, yes_no_filter
from prm.customers.models import Customer
from prm.plans.models import Metric
from prm.usage.models import (
    Alert,
    AlertBasis,
    AlertMeasure,
    AlertRule,
    EventFormat,
    EventStatus,
    QuarantinedEvent,
    QuarantineReason,
    QuarantineStatus,
    UsageEvent,
)


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


def _date_input():
    return forms.DateInput(attrs={"type": "date"})


class AlertRuleFilterSet(django_filters.FilterSet):
    customer = django_filters.ModelChoiceFilter(queryset=visible_choices(Customer), label="Customer")
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id", label="Customer id")
    metric = django_filters.ModelChoiceFilter(
        field_name="metric", to_field_name="code", queryset=Metric.objects.all(), label="Metric"
    )
    measure = django_filters.ChoiceFilter(choices=AlertMeasure.choices)
    basis = django_filters.ChoiceFilter(choices=AlertBasis.choices)
    is_active = yes_no_filter(label="Active")
    is_default = yes_no_filter(method="filter_default", label="Default rule")

    class Meta:
        model = AlertRule
        fields = ["customer", "customer_external_id", "metric", "measure", "basis", "is_active", "is_default"]

    def filter_default(self, queryset, name, value):
        return queryset.exclude(default_key="") if value else queryset.filter(default_key="")


class AlertFilterSet(django_filters.FilterSet):
    customer = django_filters.ModelChoiceFilter(queryset=visible_choices(Customer), label="Customer")
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id", label="Customer id")
    metric = django_filters.ModelChoiceFilter(
        field_name="metric", to_field_name="code", queryset=Metric.objects.all(), label="Metric"
    )
    measure = django_filters.ChoiceFilter(choices=AlertMeasure.choices)
    basis = django_filters.ChoiceFilter(choices=AlertBasis.choices)
    rule = django_filters.NumberFilter(field_name="rule_id", label="Rule id")
    # Days in UTC, both included: fired on or after `fired_from`, on or before `fired_to`.
    fired_from = django_filters.DateFilter(
        field_name="fired_at", lookup_expr="date__gte", label="Fired from", widget=_date_input()
    )
    fired_to = django_filters.DateFilter(
        field_name="fired_at", lookup_expr="date__lte", label="Fired until (included)", widget=_date_input()
    )
    acknowledged = yes_no_filter(field_name="acknowledged_at", lookup_expr="isnull", exclude=True, label="Acknowledged")

    class Meta:
        model = Alert
        fields = [
            "customer", "customer_external_id", "metric", "measure", "basis", "rule", "fired_from", "fired_to",
            "acknowledged",
        ]  # fmt: skip
