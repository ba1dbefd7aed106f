import django_filters
from django.db.models import Q

from prm.accounts.models import Invitation, Role, User
from prm.core.filtersets import yes_no_filter


class UserFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    role = django_filters.ChoiceFilter(choices=Role.choices, field_name="membership__role")
    partner = django_filters.NumberFilter(field_name="membership__partner")
    customer = django_filters.NumberFilter(field_name="membership__customer")
    is_active = yes_no_filter(label="Active")

    class Meta:
        model = User
        fields = ["q", "role", "partner", "customer", "is_active"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(email__icontains=value) | Q(full_name__icontains=value))


class InvitationFilterSet(django_filters.FilterSet):
    email = django_filters.CharFilter(lookup_expr="icontains")
    role = django_filters.ChoiceFilter(choices=Role.choices)

    class Meta:
        model = Invitation
        fields = ["email", "role"]
