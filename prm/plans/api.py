from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from prm.core.api import ScopedModelViewSet
from prm.core.money import money_string, plain_decimal
from prm.core.serializers import ServiceSerializerMixin
from prm.plans import pricing, selectors, services
from prm.plans.models import Metric, Plan, PlanVersion


class MetricSerializer(ServiceSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = Metric
        fields = ["id", "code", "name", "unit", "aggregation", "field", "allow_negative", "description", "created_at"]
        read_only_fields = ["created_at"]

    def perform_service_create(self, actor, data):
        return services.metric_create(actor=actor, **data)

    def perform_service_update(self, actor, instance, data):
        return services.metric_update(actor=actor, metric=instance, **data)


class MetricViewSet(ScopedModelViewSet):
    """Billable metrics: read by everyone signed in, configured by channel managers."""

    model = Metric
    serializer_class = MetricSerializer
    filterset_fields = ["aggregation", "code"]
    ordering_fields = ["code", "name"]

    def can_create(self):
        return self.request.user.is_manager

    def can_change(self, obj):
        return self.request.user.is_manager


class _WithCurrentVersion:
    """A plan whose current version is read once, from the prefetched versions when there are
    (`Plan.current_version` queries on each use: five times per plan in a list otherwise).
    A plan saved without any version (only possible outside the services, e.g. the admin) shows
    version 0 with no charges rather than failing."""

    def __init__(self, plan: Plan):
        self._plan = plan
        if "versions" in getattr(plan, "_prefetched_objects_cache", {}):
            version = max(plan.versions.all(), key=lambda row: row.version, default=None)
        else:
            version = plan.current_version
        self.current_version = version or PlanVersion(plan=plan, version=0, charges=[])

    def __getattr__(self, name):
        return getattr(self._plan, name)


class PlanSerializer(ServiceSerializerMixin, serializers.ModelSerializer):
    """A plan with its current version's prices (the contract's charge shape)."""

    version = serializers.IntegerField(source="current_version.version", read_only=True)
    charges = serializers.JSONField(source="current_version.charges")
    minimum_commitment = serializers.CharField(
        source="current_version.minimum_commitment", allow_null=True, required=False
    )
    credit_packs = serializers.JSONField(source="current_version.credit_packs", required=False)
    entitlements = serializers.JSONField(source="current_version.entitlements", required=False)

    class Meta:
        model = Plan
        fields = [
            "id", "code", "name", "description", "currency", "interval", "is_active", "version", "charges",
            "minimum_commitment", "credit_packs", "entitlements", "created_at",
        ]  # fmt: skip
        read_only_fields = ["interval", "created_at"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list):
            fields["code"].read_only = True
        return fields

    def to_representation(self, instance):
        plan = _WithCurrentVersion(instance)
        data = super().to_representation(plan)
        if data.get("minimum_commitment") is not None:
            data["minimum_commitment"] = plain_decimal(plan.current_version.minimum_commitment)
        return data

    @staticmethod
    def _flatten(data: dict) -> dict:
        version = data.pop("current_version", {})
        return {**data, **version}

    def perform_service_create(self, actor, data):
        return services.plan_create(actor=actor, **self._flatten(data))

    def perform_service_update(self, actor, instance, data):
        return services.plan_update(actor=actor, plan=instance, **self._flatten(data))


class PlanViewSet(ScopedModelViewSet):
    """Plans: read by everyone signed in, configured by channel managers. Changing the prices
    of a plan that subscriptions use adds a version; they keep theirs."""

    model = Plan
    serializer_class = PlanSerializer
    filterset_fields = ["currency", "is_active", "code"]
    ordering_fields = ["code", "name"]

    def get_queryset(self):
        return super().get_queryset().prefetch_related("versions")

    def can_create(self):
        return self.request.user.is_manager

    def can_change(self, obj):
        return self.request.user.is_manager


class QuoteLineSerializer(serializers.Serializer):
    metric = serializers.CharField(allow_null=True)
    model = serializers.CharField()
    quantity = serializers.CharField()
    amount = serializers.CharField()


class QuoteSerializer(serializers.Serializer):
    currency = serializers.CharField()
    lines = QuoteLineSerializer(many=True)
    subtotal = serializers.CharField()
    total = serializers.CharField()


class QuoteView(APIView):
    """Price usage without storing anything: `{"currency", "plan"}` or `{"currency", "charges",
    "minimum_commitment"}`, plus `"usage": {"<metric>": "<quantity>"}`."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: QuoteSerializer})
    def post(self, request):
        data = request.data if isinstance(request.data, dict) else None
        if data is None:
            raise exceptions.ValidationError({"body": ["Expected a JSON object."]})
        try:
            quote = selectors.quote(data)
        except pricing.PricingError as error:
            raise exceptions.ValidationError(error.errors) from None
        return Response(quote_as_dict(quote))


def quote_as_dict(quote: pricing.Quote) -> dict:
    return {
        "currency": quote.currency,
        "lines": [
            {
                "metric": line.metric,
                "model": line.model,
                "quantity": plain_decimal(line.quantity),
                "amount": money_string(line.amount, quote.currency),
            }
            for line in quote.lines
        ],
        "subtotal": money_string(quote.subtotal, quote.currency),
        "total": money_string(quote.total, quote.currency),
    }
