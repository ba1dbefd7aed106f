"""Statements and payouts API: read in scope; managers approve statements and record payouts.

    GET  /api/v1/statements/?period=2026-10&status=draft&partner=3&currency=USD
    GET  /api/v1/statements/{id}/              (with its entries, each traceable to its invoice line)
    POST /api/v1/statements/{id}/approve/      (managers; a negative total is carried, not approved)
    GET  /api/v1/payouts/
    POST /api/v1/payouts/ {"statement": 12, "reference": "TRX-1", "paid_at": "2026-11-20T10:00:00Z"}

Statements are made by `statements_generate` from the commission ledger and never edited.
"""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from prm.billing.api import MoneyField, PlainDecimalField
from prm.core.api import ScopedModelViewSet, ScopedReadOnlyViewSet
from prm.core.serializers import ScopedRelatedFieldsMixin, ServiceSerializerMixin, call_service
from prm.incentives.models import CommissionEntry, Payout, Statement
from prm.incentives.statement_filtersets import PayoutFilterSet, StatementFilterSet
from prm.incentives.statements import approval_message, payout_record, statement_approve

NOT_EDITABLE = (
    "Statements are never edited: they are made from the commission ledger when a period closes. A channel manager "
    "approves a draft (POST /api/v1/statements/{id}/approve/) and records its payment (POST /api/v1/payouts/)."
)


class PayoutSummarySerializer(serializers.ModelSerializer):
    amount = MoneyField()

    class Meta:
        model = Payout
        fields = ["id", "amount", "currency", "reference", "paid_at"]
        read_only_fields = fields


class StatementSerializer(serializers.ModelSerializer):
    partner_name = serializers.CharField(source="partner.name", read_only=True)
    period = serializers.CharField(read_only=True, help_text="The billing period, YYYY-MM.")
    # A plain string, not an enum: other apps' "status" enums already own that schema name.
    status = serializers.CharField(
        read_only=True,
        help_text="draft, approved, paid, or carried (its total was negative: nothing to pay, the balance is "
        "deducted on the partner's next statement).",
    )
    carried_in = MoneyField(help_text="A negative balance carried from the statement `carried_from`.")
    entries_total = MoneyField(help_text="The sum of the statement's entries.")
    total = MoneyField(help_text="carried_in + entries_total.")
    carried_to = serializers.SerializerMethodField(help_text="The statement this one's negative balance went to.")
    approved_by = serializers.EmailField(source="approved_by.email", read_only=True, default=None, allow_null=True)
    payout = PayoutSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Statement
        fields = [
            "id", "partner", "partner_name", "period", "currency", "status", "carried_in", "entries_total", "total",
            "carried_from", "carried_to", "created_at", "approved_at", "approved_by", "payout",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_carried_to(self, statement) -> int | None:
        carried_to = getattr(statement, "carried_to", None)
        return carried_to.pk if carried_to is not None else None


class StatementEntrySerializer(serializers.ModelSerializer):
    """One entry of a statement, with what earned it: the invoice line (or the credit note) and the rule."""

    customer = serializers.CharField(source="customer.external_id", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    rule = serializers.CharField(source="rule.code", read_only=True)
    rule_version = serializers.IntegerField(source="rule.version", read_only=True)
    invoice_number = serializers.CharField(source="invoice.number", read_only=True, default=None, allow_null=True)
    credit_note_number = serializers.CharField(
        source="credit_note.number", read_only=True, default=None, allow_null=True
    )
    base_amount = MoneyField()
    rate = PlainDecimalField(allow_null=True, help_text="Percent, or null for a fixed amount.")
    amount = MoneyField()

    class Meta:
        model = CommissionEntry
        fields = [
            "id", "period", "customer", "customer_name", "rule", "rule_version", "invoice", "invoice_number",
            "invoice_line", "credit_note", "credit_note_number", "base_amount", "rate", "amount", "explanation",
        ]  # fmt: skip
        read_only_fields = fields


class StatementDetailSerializer(StatementSerializer):
    entries = StatementEntrySerializer(many=True, read_only=True)

    class Meta(StatementSerializer.Meta):
        fields = [*StatementSerializer.Meta.fields, "entries"]
        read_only_fields = fields


class StatementApprovalSerializer(StatementSerializer):
    message = serializers.SerializerMethodField(help_text="What approving did: to pay, nothing to pay, or carried.")

    class Meta(StatementSerializer.Meta):
        fields = [*StatementSerializer.Meta.fields, "message"]
        read_only_fields = fields

    def get_message(self, statement) -> str:
        return approval_message(statement)


class StatementViewSet(ScopedReadOnlyViewSet):
    """Commission statements in your scope (partner admins: their partner's; managers: all; reps and
    customers: none), one per partner, period and currency. Managers approve drafts."""

    model = Statement
    serializer_class = StatementSerializer
    filterset_class = StatementFilterSet
    select_related = ("partner", "payout", "approved_by", "carried_to")
    ordering_fields = ["period", "total", "created_at"]
    lookup_value_regex = r"\d+"

    def get_serializer_class(self):
        return StatementSerializer if self.action == "list" else StatementDetailSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            entries = CommissionEntry.objects.select_related("customer", "rule", "invoice", "credit_note").order_by(
                "customer__name", "period", "pk"
            )
            queryset = queryset.prefetch_related(Prefetch("entries", queryset=entries))
        return queryset

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise exceptions.MethodNotAllowed(request.method, detail=NOT_EDITABLE)

    @extend_schema(request=None, responses={200: StatementApprovalSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve a draft (managers only). A negative total is not approved but `carried`: nothing to pay, and the
        balance is deducted on the partner's next statement; the answer's `message` says which happened."""
        statement = self.get_object()
        call_service(statement_approve, actor=request.user, statement=statement)
        statement = Statement.objects.select_related(*self.select_related).get(pk=statement.pk)
        return Response(StatementApprovalSerializer(statement).data)


class PayoutSerializer(ScopedRelatedFieldsMixin, ServiceSerializerMixin, serializers.ModelSerializer):
    """POST {"statement", "reference", "paid_at"?}: the payment of an approved statement's whole total."""

    statement = serializers.PrimaryKeyRelatedField(
        queryset=Statement.objects.none(), help_text="An approved statement with a total above zero."
    )
    partner = serializers.IntegerField(source="statement.partner_id", read_only=True)
    partner_name = serializers.CharField(source="statement.partner.name", read_only=True)
    period = serializers.CharField(source="statement.period", read_only=True)
    amount = MoneyField(help_text="The statement's total.")
    reference = serializers.CharField(max_length=200, help_text="The bank transfer's or payment's reference.")
    paid_at = serializers.DateTimeField(required=False, allow_null=True, help_text="When it was paid; default: now.")
    recorded_by = serializers.EmailField(source="recorded_by.email", read_only=True, default=None, allow_null=True)

    scoped_related = {"statement": "incentives.Statement"}

    class Meta:
        model = Payout
        fields = [
            "id", "statement", "partner", "partner_name", "period", "currency", "amount", "reference", "paid_at",
            "recorded_by", "created_at",
        ]  # fmt: skip
        read_only_fields = ["currency", "created_at"]

    def perform_service_create(self, actor, data):
        return payout_record(
            actor=actor, statement=data["statement"], reference=data["reference"], paid_at=data.get("paid_at")
        )


class PayoutViewSet(ScopedModelViewSet):
    """Payouts in your scope; channel managers record one per approved statement."""

    model = Payout
    serializer_class = PayoutSerializer
    filterset_class = PayoutFilterSet
    select_related = ("statement__partner", "recorded_by")
    http_method_names = ["get", "post", "head", "options"]
    lookup_value_regex = r"\d+"

    def can_create(self):
        return self.request.user.is_manager
