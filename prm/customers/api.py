from rest_framework import serializers

from prm.accounts.models import PARTNER_ROLES, User
from prm.core.api import ScopedModelViewSet
from prm.core.serializers import ScopedRelatedFieldsMixin, ServiceSerializerMixin
from prm.customers import services
from prm.customers.filtersets import CustomerFilterSet
from prm.customers.models import Customer, Subscription
from prm.customers.permissions import can_create_customers, can_edit_customer
from prm.plans.models import Plan


def _partner_people(user):
    return User.objects.visible_to(user).filter(membership__role__in=PARTNER_ROLES)


class CustomerSerializer(ScopedRelatedFieldsMixin, ServiceSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = [
            "id", "external_id", "name", "domain", "reseller", "use_case", "currency", "assigned_rep",
            "is_active", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"reseller": {"required": False}}

    scoped_related = {"reseller": "partners.Partner", "assigned_rep": _partner_people}

    def get_fields(self):
        fields = super().get_fields()
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


class SubscriptionSerializer(ScopedRelatedFieldsMixin, ServiceSerializerMixin, serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(slug_field="external_id", queryset=Customer.objects.none())
    plan = serializers.SlugRelatedField(
        source="plan_version.plan", slug_field="code", queryset=Plan.objects.all(), write_only=True
    )
    plan_code = serializers.CharField(source="plan_version.plan.code", read_only=True)
    plan_version = serializers.IntegerField(source="plan_version.version", read_only=True)

    class Meta:
        model = Subscription
        fields = [
            "id", "external_id", "customer", "plan", "plan_code", "plan_version", "started_at", "ended_at",
            "commitment", "status", "created_at",
        ]  # fmt: skip
        read_only_fields = ["status", "created_at"]

    scoped_related = {"customer": "customers.Customer"}

    def perform_service_create(self, actor, data):
        plan = data.pop("plan_version")["plan"]
        return services.subscription_create(actor=actor, plan=plan, **data)


class SubscriptionViewSet(ScopedModelViewSet):
    """Subscriptions in your scope; managers and partner admins subscribe their customers.
    Plan and commitment changes (with proration) arrive with billing."""

    model = Subscription
    serializer_class = SubscriptionSerializer
    select_related = ("customer", "plan_version__plan")
    filterset_fields = ["status", "external_id"]
    http_method_names = ["get", "post", "head", "options"]

    def can_create(self):
        return can_create_customers(self.request.user)
