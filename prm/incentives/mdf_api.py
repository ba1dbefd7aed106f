"""Market development funds API.

GET  /api/v1/mdf-requests/?status=requested&period=2026-Q4&partner=3
POST /api/v1/mdf-requests/ {"activity", "activity_type"?, "description"?, "activity_date": "2026-11-20",
                            "amount": "2500.00", "currency"?}                         partner admins
POST /api/v1/mdf-requests/{id}/approve/ {"reason"?}                                   channel managers
POST /api/v1/mdf-requests/{id}/reject/  {"reason"}                                    channel managers
POST /api/v1/mdf-requests/{id}/claim/   multipart: proof_file, or JSON/form: proof_url; claimed_amount?,
                                        proof_note?                                   partner admins
POST /api/v1/mdf-requests/{id}/paid/    {"reference", "paid_at"?}                     channel managers
GET  /api/v1/mdf-budgets/?tier=2&period=2026-Q4                                       channel managers
POST /api/v1/mdf-budgets/ {"tier": "<code>", "period": "2026-Q4", "amount": "10000.00", "currency"?, "note"?}
PATCH /api/v1/mdf-budgets/{id}/ (any of those fields)                                 channel managers
"""

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from prm.core.api import ScopedModelViewSet
from prm.core.money import money_string
from prm.core.serializers import ServiceSerializerMixin, call_service
from prm.incentives import mdf
from prm.incentives.mdf_filtersets import MdfBudgetFilterSet, MdfRequestFilterSet
from prm.incentives.models import MdfActivityType, MdfBudget, MdfRequest
from prm.partners.models import Tier


@extend_schema_field(serializers.CharField(allow_null=True))
class OptionalMoneyField(serializers.Field):
    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, instance):
        value = getattr(instance, self.field_name)
        return None if value is None else money_string(value, instance.currency)


class MdfRequestSerializer(ServiceSerializerMixin, serializers.ModelSerializer):
    partner = serializers.IntegerField(source="partner_id", read_only=True)
    partner_name = serializers.CharField(source="partner.name", read_only=True)
    requested_by = serializers.EmailField(source="requested_by.email", read_only=True, default=None, allow_null=True)
    activity_type = serializers.ChoiceField(choices=MdfActivityType.choices, required=False)
    amount = serializers.CharField(max_length=32, help_text='A decimal string in the currency, e.g. "2500.00".')
    currency = serializers.CharField(
        max_length=3, required=False, help_text="Default: the program currency; must be the tier budget's."
    )
    period = serializers.CharField(read_only=True, help_text="The activity's quarter, YYYY-Qn.")
    # A plain string, not an enum: other apps' "status" enums already own that schema name.
    status = serializers.CharField(read_only=True, help_text="requested, approved, rejected, claimed or paid.")
    claimed_amount = OptionalMoneyField()
    has_proof_file = serializers.SerializerMethodField()
    decided_by = serializers.EmailField(source="decided_by.email", read_only=True, default=None, allow_null=True)
    # The link a claim gives as proof: blank until claimed, so not documented as a URI.
    proof_url = serializers.CharField(read_only=True)

    class Meta:
        model = MdfRequest
        fields = [
            "id", "partner", "partner_name", "requested_by", "activity", "activity_type", "description",
            "activity_date", "period", "amount", "currency", "status", "reason", "decided_by", "decided_at",
            "claimed_amount", "has_proof_file", "proof_url", "proof_note", "claimed_at", "payment_reference",
            "paid_at", "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "reason", "decided_at", "proof_url", "proof_note", "claimed_at", "payment_reference", "paid_at",
            "created_at",
        ]  # fmt: skip
        extra_kwargs = {"description": {"required": False}}

    def get_has_proof_file(self, request) -> bool:
        return bool(request.proof_file)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["amount"] = money_string(instance.amount, instance.currency)
        return data

    def perform_service_create(self, actor, data):
        return mdf.mdf_request_create(actor=actor, **data)


class MdfApproveSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class MdfRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class MdfClaimSerializer(serializers.Serializer):
    claimed_amount = serializers.CharField(
        max_length=32, required=False, allow_blank=True, help_text="What it cost; default: the approved amount."
    )
    proof_file = serializers.FileField(required=False, help_text="A PDF, PNG or JPEG, at most 5 MB.")
    proof_url = serializers.CharField(max_length=500, required=False, allow_blank=True)
    proof_note = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class MdfPaidSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=200, help_text="The payment's reference.")
    paid_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Default: now.")


class MdfRequestViewSet(ScopedModelViewSet):
    """MDF requests in your scope: partner admins their partner's (and they request and claim), channel managers
    all (they approve, reject and mark paid); reps and customers none."""

    model = MdfRequest
    serializer_class = MdfRequestSerializer
    filterset_class = MdfRequestFilterSet
    select_related = ("partner", "requested_by", "decided_by")
    ordering_fields = ["created_at", "activity_date", "amount"]
    http_method_names = ["get", "post", "head", "options"]
    lookup_value_regex = r"\d+"
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def can_create(self):
        return self.request.user.is_partner_admin

    def can_change(self, obj):
        # Nothing is edited in place (no PUT or PATCH); each action's service decides who may take it.
        return True

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise exceptions.MethodNotAllowed(request.method, detail="An MDF request moves by its actions, not edits.")

    def _answer(self, pk):
        return Response(self.get_serializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(request=MdfApproveSerializer, responses={200: MdfRequestSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve (channel managers); refused (400, `amount`) when the tier's quarter budget would be exceeded."""
        obj = self.get_object()
        data = MdfApproveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(mdf.mdf_request_approve, actor=request.user, request=obj, **data.validated_data)
        return self._answer(obj.pk)

    @extend_schema(request=MdfRejectSerializer, responses={200: MdfRequestSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        obj = self.get_object()
        data = MdfRejectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(mdf.mdf_request_reject, actor=request.user, request=obj, **data.validated_data)
        return self._answer(obj.pk)

    @extend_schema(request={"multipart/form-data": MdfClaimSerializer}, responses={200: MdfRequestSerializer})
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        """Claim an approved request with proof (partner admins): a file (multipart) or a link."""
        obj = self.get_object()
        if int(request.META.get("CONTENT_LENGTH") or 0) > mdf.MDF_PROOF_MAX_BYTES + 64 * 1024:
            # Refused before the body is parsed: an oversized upload never reaches the disk.
            limit = mdf.MDF_PROOF_MAX_BYTES // (1024 * 1024)
            raise exceptions.ValidationError({"proof_file": [f"The upload is larger than {limit} MB."]})
        data = MdfClaimSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(mdf.mdf_request_claim, actor=request.user, request=obj, **data.validated_data)
        return self._answer(obj.pk)

    @extend_schema(request=MdfPaidSerializer, responses={200: MdfRequestSerializer})
    @action(detail=True, methods=["post"])
    def paid(self, request, pk=None):
        """Record the payment of a claimed request (channel managers)."""
        obj = self.get_object()
        data = MdfPaidSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(mdf.mdf_request_mark_paid, actor=request.user, request=obj, **data.validated_data)
        return self._answer(obj.pk)


class MdfBudgetSerializer(ServiceSerializerMixin, serializers.ModelSerializer):
    tier = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Tier.objects.filter(mdf_eligible=True),
        help_text="A tier whose partners may request MDF.",
    )
    amount = serializers.CharField(max_length=32, help_text='A decimal string in the currency, e.g. "10000.00".')
    currency = serializers.CharField(max_length=3, required=False, help_text="Default: the program currency.")
    committed = serializers.SerializerMethodField(help_text="Approved, claimed and paid requests drawing on it.")

    class Meta:
        model = MdfBudget
        fields = ["id", "tier", "period", "amount", "currency", "committed", "note", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"note": {"required": False}}

    def get_committed(self, budget) -> str:
        committed = self.context.get("committed") or {}  # a list page's, from one query
        if budget.pk not in committed:
            committed = mdf.committed_by_budget([budget.pk])
        return money_string(committed[budget.pk], budget.currency)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["amount"] = money_string(instance.amount, instance.currency)
        return data

    def perform_service_create(self, actor, data):
        data.setdefault("currency", settings.PRM_PROGRAM_CURRENCY)
        return mdf.mdf_budget_save(actor=actor, **data)

    def perform_service_update(self, actor, instance, data):
        return mdf.mdf_budget_save(actor=actor, budget=instance, **data)


class MdfBudgetViewSet(ScopedModelViewSet):
    """What the program spends on MDF per tier and quarter: channel managers only (others find none)."""

    model = MdfBudget
    serializer_class = MdfBudgetSerializer
    filterset_class = MdfBudgetFilterSet  # the budgets page's own filters
    select_related = ("tier",)
    ordering_fields = ["period", "amount"]
    lookup_value_regex = r"\d+"

    def can_create(self):
        return self.request.user.is_manager

    def can_change(self, obj):
        return self.request.user.is_manager

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is not None:
            self.committed = mdf.committed_by_budget([budget.pk for budget in page])
        return page

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "committed": getattr(self, "committed", None)}
