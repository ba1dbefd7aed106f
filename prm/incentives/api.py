"""Incentives API: the program's commission rules, the commission ledger and its forecast."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from prm.billing.api import MoneyField, PlainDecimalField
from prm.core.api import ScopedModelViewSet, ScopedReadOnlyViewSet
from prm.core.money import money_string, plain_decimal
from prm.core.periods import BillingPeriod
from prm.core.serializers import ServiceSerializerMixin, call_service
from prm.incentives import rules
from prm.incentives.filtersets import CommissionEntryFilterSet, CommissionRuleFilterSet
from prm.incentives.forecast import commission_forecast
from prm.incentives.models import CommissionEntry, CommissionRule
from prm.partners.models import Tier
from prm.plans.models import Metric, Plan

REVISE_ONLY = (
    "Commission rules are not edited in place: a program change never alters an accrued period. Add a version "
    'from a later period with POST /api/v1/commission-rules/{id}/revise/ {"effective_from": "YYYY-MM", …changes}.'
)


def _decimal_text(**kwargs) -> serializers.CharField:
    return serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=32, **kwargs)


class CommissionRuleSerializer(ServiceSerializerMixin, serializers.ModelSerializer):
    # Plain strings, not enums: other apps' "kind" and "currency" enums own those schema names.
    kind = serializers.CharField(
        max_length=24, help_text="revenue_share, new_customer_bonus, growth_accelerator or distributor_override."
    )
    effective_from = serializers.CharField(max_length=7, help_text="First billing period it applies to, YYYY-MM.")
    effective_to = serializers.CharField(
        max_length=7, required=False, allow_blank=True, help_text="Last billing period, YYYY-MM; empty: open-ended."
    )
    tier = serializers.SlugRelatedField(
        slug_field="code", queryset=Tier.objects.all(), required=False, allow_null=True,
        help_text="Narrow to partners of this tier (its code).",
    )  # fmt: skip
    plan = serializers.SlugRelatedField(
        slug_field="code", queryset=Plan.objects.all(), required=False, allow_null=True,
        help_text="Narrow to invoice lines of this plan (its code).",
    )  # fmt: skip
    metric = serializers.SlugRelatedField(
        slug_field="code", queryset=Metric.objects.all(), required=False, allow_null=True,
        help_text="Narrow to invoice lines of this metric (its code).",
    )  # fmt: skip
    rate = _decimal_text(help_text="Percent, 0–100. Empty on a revenue share: the partner's tier's base rate.")
    first_months = serializers.IntegerField(
        required=False, allow_null=True, help_text="A customer's first N billing periods earn first_months_rate."
    )
    first_months_rate = _decimal_text(help_text="Percent, 0–100, for the customer's first `first_months` periods.")
    bonus_amount = _decimal_text(help_text="New-customer bonus, in `currency`.")
    currency = serializers.CharField(
        max_length=3, required=False, allow_blank=True, help_text="The currency of the bonus and the cap."
    )
    cap_amount = _decimal_text(help_text="At most this much per partner per period from this rule, in `currency`.")
    created_by = serializers.EmailField(source="created_by.email", read_only=True, default=None, allow_null=True)

    class Meta:
        model = CommissionRule
        fields = [
            "id", "code", "version", "name", "kind", "effective_from", "effective_to", "tier", "plan", "metric",
            "rate", "first_months", "first_months_rate", "bonus_amount", "currency", "cap_amount", "is_active",
            "created_at", "created_by",
        ]  # fmt: skip
        read_only_fields = ["version", "created_at"]
        validators = []  # the service checks versions (unique, never overlapping)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name in ("rate", "first_months_rate"):
            value = getattr(instance, name)
            data[name] = None if value is None else plain_decimal(value)
        for name in ("bonus_amount", "cap_amount"):
            value = getattr(instance, name)
            if value is not None:
                data[name] = money_string(value, instance.currency) if instance.currency else plain_decimal(value)
        return data

    def perform_service_create(self, actor, data):
        return rules.commission_rule_create(actor=actor, **data)


class CommissionRuleReviseSerializer(CommissionRuleSerializer):
    """A revision: the period it starts in, and what changes (the rest is kept)."""

    kind = None
    created_by = None
    effective_from = serializers.CharField(max_length=7, help_text="The first period of the new version, YYYY-MM.")

    class Meta(CommissionRuleSerializer.Meta):
        fields = ["effective_from", *rules.REVISABLE]
        extra_kwargs = {"name": {"required": False}}


class CommissionRuleViewSet(ScopedModelViewSet):
    """The program's commission rules, readable by everyone signed in; channel managers add
    rules and revise them (a new version from a later period: never edited in place)."""

    model = CommissionRule
    serializer_class = CommissionRuleSerializer
    filterset_class = CommissionRuleFilterSet
    select_related = ("tier", "plan", "metric", "created_by")
    http_method_names = ["get", "post", "head", "options"]
    lookup_value_regex = r"\d+"

    def can_create(self):
        return rules.can_configure_rules(self.request.user)

    def can_change(self, obj):
        return rules.can_configure_rules(self.request.user)

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise exceptions.MethodNotAllowed(request.method, detail=REVISE_ONLY)

    @extend_schema(request=CommissionRuleReviseSerializer, responses={201: CommissionRuleSerializer})
    @action(detail=True, methods=["post"])
    def revise(self, request, pk=None):
        rule = self.get_object()
        data = CommissionRuleReviseSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        revised = call_service(
            rules.commission_rule_revise,
            actor=request.user,
            rule=rule,
            effective_from=changes.pop("effective_from"),
            **changes,
        )
        return Response(CommissionRuleSerializer(revised).data, status=status.HTTP_201_CREATED)


# --- the ledger -------------------------------------------------------------------------------


class CommissionEntrySerializer(serializers.ModelSerializer):
    partner_name = serializers.CharField(source="partner.name", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True, default=None, allow_null=True)
    customer_external_id = serializers.CharField(
        source="customer.external_id", read_only=True, default=None, allow_null=True
    )
    rule_code = serializers.CharField(source="rule.code", read_only=True)
    rule_version = serializers.IntegerField(source="rule.version", read_only=True)
    invoice_number = serializers.CharField(source="invoice.number", read_only=True, default=None, allow_null=True)
    invoice_url = serializers.SerializerMethodField(help_text="The invoice page: its lines and the usage behind them.")
    base_amount = MoneyField(help_text="What the rate was applied to (the line's amount, the growth …).")
    rate = PlainDecimalField(allow_null=True, help_text="Percent; empty for a bonus, a clawback or a reversal.")
    amount = MoneyField()

    class Meta:
        model = CommissionEntry
        fields = [
            "id", "period", "currency", "partner", "partner_name", "customer", "customer_name", "customer_external_id",
            "rule", "rule_code", "rule_version", "invoice", "invoice_number", "invoice_line", "credit_note",
            "statement", "base_amount", "rate", "amount", "explanation", "invoice_url", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_invoice_url(self, entry) -> str | None:
        return entry.invoice.get_absolute_url() if entry.invoice_id else None


class ForecastEntrySerializer(serializers.Serializer):
    partner = serializers.IntegerField(source="partner.pk")
    partner_name = serializers.CharField(source="partner.name")
    customer = serializers.IntegerField(source="customer.pk", default=None, allow_null=True)
    customer_name = serializers.CharField(source="customer.name", default=None, allow_null=True)
    rule = serializers.IntegerField(source="rule.pk")
    rule_code = serializers.CharField(source="rule.code")
    invoice = serializers.IntegerField(source="invoice.pk", default=None, allow_null=True, help_text="The draft.")
    invoice_line = serializers.IntegerField(source="invoice_line.pk", default=None, allow_null=True)
    period = serializers.CharField()
    currency = serializers.CharField()
    base_amount = MoneyField()
    rate = PlainDecimalField(allow_null=True)
    amount = MoneyField()
    explanation = serializers.CharField()


class CurrencyForecastSerializer(serializers.Serializer):
    currency = serializers.CharField()
    total = MoneyField()
    entries = ForecastEntrySerializer(many=True)


class ForecastSerializer(serializers.Serializer):
    period = serializers.CharField()
    drafts = serializers.IntegerField(help_text="The live invoice drafts the projection read.")
    currencies = CurrencyForecastSerializer(many=True)


class CommissionViewSet(ScopedReadOnlyViewSet):
    """The commission ledger in your scope: partner admins their partner's entries, reps those of
    the customers assigned to them, channel managers all; customers none. Each entry names the
    invoice line and rule that earned it (or the credit note that took it back)."""

    model = CommissionEntry
    serializer_class = CommissionEntrySerializer
    filterset_class = CommissionEntryFilterSet
    select_related = ("partner", "customer", "rule", "invoice")
    lookup_value_regex = r"\d+"

    @extend_schema(
        parameters=[
            OpenApiParameter("period", OpenApiTypes.STR, description="YYYY-MM; defaults to the current period.")
        ],
        responses={200: ForecastSerializer},
    )
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def forecast(self, request):
        """Commission projected for an open period from its live invoice drafts (nothing stored)."""
        text = (request.query_params.get("period") or "").strip()
        try:
            period = BillingPeriod.parse(text) if text else BillingPeriod.containing(timezone.now())
        except ValueError:
            raise exceptions.ValidationError({"period": f"{text!r} is not a billing period: use YYYY-MM."}) from None
        return Response(ForecastSerializer(commission_forecast(user=request.user, period=period)).data)
