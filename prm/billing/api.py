"""Billing API: invoices (read-only, voidable by managers), credit notes, prepaid credit grants and
savings recommendations (read-only, dismissable by the customer's or its partner's admins)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from prm.billing import credits, recommendations, services
from prm.billing.filtersets import (
    CreditGrantFilterSet,
    CreditNoteFilterSet,
    InvoiceFilterSet,
    RecommendationFilterSet,
)
from prm.billing.models import CreditGrant, CreditNote, Invoice, InvoiceLine, Recommendation
from prm.core.api import ScopedModelViewSet, ScopedReadOnlyViewSet
from prm.core.money import money_string, plain_decimal
from prm.core.serializers import ServiceSerializerMixin, call_service
from prm.customers.models import Subscription

IMMUTABLE = (
    "Invoices cannot be changed through the API: a finalized invoice is immutable (correct it with a credit note, "
    "POST /api/v1/credit-notes/, or void it, POST /api/v1/invoices/{id}/void/), and a draft is recomputed from usage."
)


@extend_schema_field(OpenApiTypes.STR)
class MoneyField(serializers.Field):
    """An amount as a string with exactly its currency's minor unit ("12.50", "1200" for JPY)."""

    def __init__(self, *, currency: str = "currency", **kwargs):
        self.currency_path = currency.split(".")
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, instance):
        currency = instance
        for name in self.currency_path:
            currency = getattr(currency, name)
        return money_string(getattr(instance, self.field_name), currency)


@extend_schema_field(OpenApiTypes.STR)
class PlainDecimalField(serializers.DecimalField):
    def __init__(self, **kwargs):
        super().__init__(max_digits=None, decimal_places=None, read_only=True, **kwargs)

    def to_representation(self, value):
        return plain_decimal(value)


class InvoiceLineSerializer(serializers.ModelSerializer):
    metric = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)  # null: a flat fee
    quantity = PlainDecimalField()
    amount = MoneyField(currency="invoice.currency")

    class Meta:
        model = InvoiceLine
        fields = ["position", "metric", "model", "quantity", "amount", "description", "charge", "tiers"]


class InvoiceSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id", read_only=True)
    subscription = serializers.CharField(source="subscription.external_id", read_only=True)
    plan = serializers.CharField(source="plan_version.plan.code", read_only=True)
    plan_version = serializers.IntegerField(source="plan_version.version", read_only=True)
    # A plain string, not an enum: another app's "status" enum already owns that schema name.
    status = serializers.CharField(read_only=True, help_text="draft, finalized or void.")
    subtotal = MoneyField()
    total = MoneyField()
    credited = MoneyField()

    class Meta:
        model = Invoice
        fields = [
            "id", "number", "status", "period", "period_start", "period_end", "service_start", "service_end",
            "customer", "subscription", "plan", "plan_version", "currency", "subtotal", "total", "credited",
            "rated_at", "finalized_at", "voided_at", "void_reason",
        ]  # fmt: skip
        read_only_fields = fields


class InvoiceDetailSerializer(InvoiceSerializer):
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta(InvoiceSerializer.Meta):
        fields = [*InvoiceSerializer.Meta.fields, "lines"]
        read_only_fields = fields


class VoidSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class InvoiceViewSet(ScopedReadOnlyViewSet):
    """Invoices in your scope: drafts (the open period's live estimate), finalized and void ones.
    Read-only: corrections are credit notes; managers may void a finalized invoice."""

    model = Invoice
    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilterSet
    select_related = ("customer", "subscription", "plan_version__plan")
    lookup_value_regex = r"\d+"

    def get_serializer_class(self):
        return InvoiceSerializer if self.action == "list" else InvoiceDetailSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            queryset = queryset.prefetch_related("lines__metric")
        return queryset

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise exceptions.MethodNotAllowed(request.method, detail=IMMUTABLE)

    @extend_schema(request=VoidSerializer, responses={200: InvoiceDetailSerializer})
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        invoice = self.get_object()
        data = VoidSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(services.invoice_void, actor=request.user, invoice=invoice, **data.validated_data)
        return Response(InvoiceDetailSerializer(self.get_queryset().get(pk=invoice.pk)).data)


class CreditNoteSerializer(ServiceSerializerMixin, serializers.ModelSerializer):
    invoice = serializers.PrimaryKeyRelatedField(queryset=Invoice.objects.none())
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    currency = serializers.CharField(source="invoice.currency", read_only=True)
    amount = serializers.CharField(max_length=32, help_text="A decimal string in the invoice's currency.")
    created_by = serializers.EmailField(source="created_by.email", read_only=True, default=None, allow_null=True)

    class Meta:
        model = CreditNote
        fields = [
            "id", "number", "invoice", "invoice_number", "currency", "amount", "reason", "created_at", "created_by",
        ]  # fmt: skip
        read_only_fields = ["number", "created_at"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            # Invoices outside the caller's scope read as "does not exist", never "forbidden".
            fields["invoice"].queryset = Invoice.objects.visible_to(request.user)
        return fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["amount"] = money_string(instance.amount, instance.invoice.currency)
        return data

    def perform_service_create(self, actor, data):
        return services.credit_note_create(actor=actor, **data)


class CreditNoteViewSet(ScopedModelViewSet):
    """Credit notes in your scope; channel managers issue them on finalized invoices."""

    model = CreditNote
    serializer_class = CreditNoteSerializer
    filterset_class = CreditNoteFilterSet
    select_related = ("invoice", "created_by")
    http_method_names = ["get", "post", "head", "options"]
    lookup_value_regex = r"\d+"

    def can_create(self):
        return self.request.user.is_manager


class CreditGrantSerializer(ServiceSerializerMixin, serializers.ModelSerializer):
    """POST buys a pack: {"subscription", "pack"}; or, channel managers only, grants goodwill
    credits: {"subscription", "credits", "reason"} (optionally "expires_at")."""

    customer = serializers.CharField(source="customer.external_id", read_only=True)
    subscription = serializers.SlugRelatedField(
        slug_field="external_id",
        queryset=Subscription.objects.none(),
        help_text="The subscription's external id: the pack is one of its plan version's credit_packs, billed on "
        "its invoice.",
    )
    pack = serializers.CharField(
        write_only=True, required=False, max_length=200, help_text="To buy a pack: its name in the plan's credit_packs."
    )
    # A plain string, not an enum: another app's "source" enum may own that schema name.
    source = serializers.CharField(read_only=True, help_text="purchase or goodwill.")
    currency = serializers.CharField(
        required=False, max_length=3, help_text="Optional on input: must be the subscription's currency."
    )
    credits = serializers.CharField(
        required=False,
        max_length=32,
        help_text="Credits granted, a decimal string in the currency. On input, for a goodwill grant (managers).",
    )
    price = MoneyField()
    balance = MoneyField(help_text="Credits left: credits less what finalized invoices drew.")
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text="Required for a goodwill grant; kept for audit."
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    granted_by = serializers.EmailField(source="granted_by.email", read_only=True, default=None, allow_null=True)

    class Meta:
        model = CreditGrant
        fields = [
            "id", "customer", "subscription", "pack", "source", "name", "currency", "credits", "price", "balance",
            "granted_at", "expires_at", "granted_by", "reason",
        ]  # fmt: skip
        read_only_fields = ["name", "granted_at"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            # Subscriptions outside the caller's scope read as "does not exist", never "forbidden".
            fields["subscription"].queryset = Subscription.objects.visible_to(request.user)
        return fields

    def validate(self, attrs):
        buying, granting = "pack" in attrs, "credits" in attrs
        if buying and granting:
            raise serializers.ValidationError(
                {"pack": "Give pack (to buy a pack) or credits (a goodwill grant), not both."}
            )
        if not buying and not granting:
            raise serializers.ValidationError(
                {"pack": "Required: the name of one of the subscription's credit packs (or, for channel managers, "
                 "credits and a reason for a goodwill grant)."}
            )  # fmt: skip
        if buying and attrs.get("expires_at"):
            raise serializers.ValidationError({"expires_at": "Packs do not expire; only goodwill grants may."})
        return attrs

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["credits"] = money_string(instance.credits, instance.currency)
        return data

    def perform_service_create(self, actor, data):
        common = {"actor": actor, "subscription": data["subscription"], "currency": data.get("currency")}
        if "pack" in data:
            return credits.credit_pack_purchase(pack=data["pack"], reason=data.get("reason", ""), **common)
        return credits.credit_grant_create(
            credits=data["credits"], reason=data.get("reason", ""), expires_at=data.get("expires_at"), **common
        )


class CreditGrantViewSet(ScopedModelViewSet):
    """Prepaid credits in your scope, each with its balance. Managers, partner admins and customer
    admins buy their customers' packs; channel managers grant goodwill credits."""

    model = CreditGrant
    serializer_class = CreditGrantSerializer
    filterset_class = CreditGrantFilterSet
    select_related = ("customer", "subscription", "granted_by")
    http_method_names = ["get", "post", "head", "options"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return super().get_queryset().with_balance()

    def can_create(self):
        return credits.can_buy_credits(self.request.user)


# --- recommendations --------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.STR)
class OptionalMoneyField(MoneyField):
    def to_representation(self, instance):
        if getattr(instance, self.field_name) is None:
            return None
        return super().to_representation(instance)


class RecommendationSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    subscription = serializers.CharField(source="subscription.external_id", read_only=True)
    # Plain strings, not enums: other apps' "kind" and "status" enums may own those schema names.
    kind = serializers.CharField(read_only=True, help_text="plan (move to another plan) or commitment (lower it).")
    status = serializers.CharField(read_only=True, help_text="open, dismissed, applied or superseded.")
    advice = serializers.CharField(read_only=True)
    summary = serializers.SerializerMethodField()
    current_plan = serializers.CharField(source="current_plan_version.plan.code", read_only=True)
    current_plan_version = serializers.IntegerField(source="current_plan_version.version", read_only=True)
    current_commitment = OptionalMoneyField(help_text="The subscription's own commitment; null: the plan's minimum.")
    target_plan = serializers.CharField(
        source="target_plan_version.plan.code", read_only=True, default=None, allow_null=True
    )
    target_plan_version = serializers.IntegerField(
        source="target_plan_version.version", read_only=True, default=None, allow_null=True
    )
    target_commitment = OptionalMoneyField()
    first_period = serializers.CharField(read_only=True)
    actual_total = MoneyField(help_text="What the periods cost: plan charges + true-ups − credit notes.")
    alternative_total = MoneyField(help_text="What the same usage would have cost on the alternative.")
    saving = MoneyField()
    saving_percent = PlainDecimalField()
    periods = serializers.JSONField(
        read_only=True,
        help_text="Per period: actual, alternative and saving (money strings), the invoice, and the usage "
        "(metric, quantity) that was re-priced.",
    )
    decided_by = serializers.EmailField(source="decided_by.email", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Recommendation
        fields = [
            "id", "customer", "customer_name", "subscription", "kind", "status", "advice", "summary", "current_plan",
            "current_plan_version", "current_commitment", "target_plan", "target_plan_version", "target_commitment",
            "first_period", "period", "currency", "actual_total", "alternative_total", "saving", "saving_percent",
            "periods", "computed_at", "decided_at", "decided_by",
        ]  # fmt: skip
        read_only_fields = fields

    def get_summary(self, recommendation) -> str:
        return recommendations.summary_text(recommendation)


class RecommendationViewSet(ScopedReadOnlyViewSet):
    """Where a customer would have paid less over its last three closed periods, on another plan or under
    a lower commitment, with the figures (prm/billing/recommendations.py states the method). Customers
    see their own, partners their customers', managers all. The customer's admins and its partner's
    admins may dismiss one."""

    model = Recommendation
    serializer_class = RecommendationSerializer
    filterset_class = RecommendationFilterSet
    select_related = (
        "customer", "subscription", "current_plan_version__plan", "target_plan_version__plan", "decided_by",
    )  # fmt: skip
    lookup_value_regex = r"\d+"

    @extend_schema(request=None, responses={200: RecommendationSerializer})
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        recommendation = self.get_object()  # 404 outside the caller's scope, before any 403
        call_service(recommendations.recommendation_dismiss, actor=request.user, recommendation=recommendation)
        return Response(RecommendationSerializer(self.get_queryset().get(pk=recommendation.pk)).data)
