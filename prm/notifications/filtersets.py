import django_filters
from django.db.models import Q

from prm.core.filtersets import yes_no_filter
from prm.notifications.kinds import NOTIFICATION_KINDS
from prm.notifications.models import DeliveryStatus, Notification, WebhookDelivery, WebhookEndpoint


class NotificationFilterSet(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull", label="Unread")
    kind = django_filters.CharFilter(help_text=f"One of: {', '.join(NOTIFICATION_KINDS)} (or another kind's code).")

    class Meta:
        model = Notification
        fields = ["unread", "kind"]


class WebhookEndpointFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    is_active = yes_no_filter(label="Active")
    vendor = yes_no_filter(field_name="partner", lookup_expr="isnull", label="Vendor endpoint")

    class Meta:
        model = WebhookEndpoint
        fields = ["q", "is_active", "vendor"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(url__icontains=value) | Q(description__icontains=value))


class WebhookDeliveryFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    event_type = django_filters.CharFilter()

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event_type"]
