from rest_framework import serializers

from prm.accounts.models import PARTNER_ROLES, User
from prm.core.api import ScopedModelViewSet
from prm.core.serializers import ServiceSerializerMixin
from prm.customers import services
from prm.customers.filtersets import CustomerFilterSet
from prm.customers.models import Customer
from prm.customers.permissions import can_create_customers, can_edit_customer
from prm.partners.models import Partner


class CustomerSerializer(ServiceSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = [
            "id", "external_id", "name", "domain", "reseller", "use_case", "currency", "assigned_rep",
            "is_active", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"reseller": {"required": False}}

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            # Ids outside the caller's scope read as "does not exist", never as "forbidden".
            fields["reseller"].queryset = Partner.objects.visible_to(request.user)
            fields["assigned_rep"].queryset = User.objects.visible_to(request.user).filter(
                membership__role__in=PARTNER_ROLES
            )
        if self.instance is not None and not isinstance(self.instance, list):
            fields["external_id"].read_only = True
        return fields

    def validate(self, attrs):
        request = self.context["request"]
        if self.instance is None and "reseller" not in attrs and request.user.is_manager:
            raise serializers.ValidationError({"reseller": "This field is required."})
        return attrs

    def perform_service_create(self, actor, data):
        return services.customer_create(actor=actor, **data)

    def perform_service_update(self, actor, instance, data):
        return services.customer_update(actor=actor, customer=instance, **data)


class CustomerViewSet(ScopedModelViewSet):
    """Customers: managers see all, partners their own (reps: assigned ones), customers themselves."""

    model = Customer
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilterSet
    select_related = ("reseller",)
    ordering_fields = ["name", "created_at", "external_id"]
    lookup_value_regex = r"\d+"

    def can_create(self):
        return can_create_customers(self.request.user)

    def can_change(self, obj):
        return can_edit_customer(self.request.user, obj)
