import django_filters
from django.db.models import Q

from prm.accounts.models import PARTNER_ROLES, User
from prm.core.filtersets import visible_choices, yes_no_filter
from prm.customers.models import Approval, ChangeKind, Customer, SubscriptionChange, UseCase
from prm.partners.models import Partner


class CustomerFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    # The choice lists are scoped too: a partner never sees another partner's name here.
    reseller = django_filters.ModelChoiceFilter(queryset=visible_choices(Partner), label="Reseller")
    assigned_rep = django_filters.ModelChoiceFilter(
        queryset=visible_choices(User, membership__role__in=PARTNER_ROLES), label="Rep"
    )
    use_case = django_filters.MultipleChoiceFilter(choices=UseCase.choices)
    currency = django_filters.CharFilter(lookup_expr="iexact")
    external_id = django_filters.CharFilter()
    is_active = yes_no_filter(label="Active")

    class Meta:
        model = Customer
        fields = ["q", "reseller", "use_case", "currency", "assigned_rep", "is_active", "external_id"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(domain__icontains=value) | Q(external_id__icontains=value))


class SubscriptionChangeFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    kind = django_filters.ChoiceFilter(choices=ChangeKind.choices)
    approval = django_filters.ChoiceFilter(choices=Approval.choices)

    class Meta:
        model = SubscriptionChange
        fields = ["q", "kind", "approval"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(subscription__external_id__icontains=value) | Q(subscription__customer__name__icontains=value)
        )
