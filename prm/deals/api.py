"""Deal registration API.

    GET  /api/v1/deals/?status=submitted&has_conflicts=true&partner=3
    POST /api/v1/deals/ {"company", "domain", "plan": "<code>", "expected_close": "2027-01-31",
                         "expected_usage": {"api_calls": "2500000"}, "use_case"?, "notes"?}
    POST /api/v1/deals/{id}/approve/  {"reason"?}      channel managers
    POST /api/v1/deals/{id}/reject/   {"reason"}       channel managers
    POST /api/v1/deals/{id}/lost/     {"reason"}       the partner admin, the registering rep, managers
    POST /api/v1/deals/{id}/proposal/                  price the plan over the expected usage again
    POST /api/v1/deals/{id}/won/      {"external_id", "currency"?, "started_at"?, …}
         (a flow across apps: prm/operations/api.py, registered beside this router's routes)

Every answer states the registration's conflicts; another partner is never named to a partner.
"""

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from prm.core.api import ScopedModelViewSet
from prm.core.serializers import ServiceSerializerMixin, call_service
from prm.customers.models import UseCase
from prm.deals import services
from prm.deals.conflicts import visible_conflicts
from prm.deals.filtersets import DealFilterSet
from prm.deals.models import DealRegistration
from prm.deals.permissions import can_register
from prm.plans.models import Plan


class DealConflictSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="customer or deal.")
    match = serializers.CharField(help_text="domain or name.")
    text = serializers.CharField(help_text="What the registration collides with.")
    lapsed = serializers.BooleanField(help_text="The other registration's protection has lapsed since.")
    deal = serializers.IntegerField(required=False, allow_null=True, help_text="Channel managers only.")
    customer = serializers.IntegerField(required=False, allow_null=True, help_text="Channel managers only.")
    partner = serializers.IntegerField(required=False, allow_null=True, help_text="Channel managers only.")


class DealSerializer(ServiceSerializerMixin, serializers.ModelSerializer):
    partner = serializers.IntegerField(source="partner_id", read_only=True)
    partner_name = serializers.CharField(source="partner.name", read_only=True)
    registered_by = serializers.EmailField(source="registered_by.email", read_only=True, default=None, allow_null=True)
    plan = serializers.SlugRelatedField(
        slug_field="code", queryset=Plan.objects.all(), help_text="The code of the plan the customer would take."
    )
    currency = serializers.CharField(source="plan.currency", read_only=True)
    use_case = serializers.ChoiceField(choices=UseCase.choices, required=False, allow_blank=True)
    expected_usage = serializers.JSONField(
        required=False, help_text='Expected monthly usage per metric code, quantities as decimal strings: '
        '{"api_calls": "2500000"}.'
    )  # fmt: skip
    # A plain string, not an enum: other apps' "status" enums already own that schema name.
    status = serializers.CharField(read_only=True, help_text="submitted, approved, rejected, won or lost.")
    conflicts = serializers.SerializerMethodField()
    is_protected = serializers.SerializerMethodField()
    decided_by = serializers.EmailField(source="decided_by.email", read_only=True, default=None, allow_null=True)
    customer = serializers.CharField(source="customer.external_id", read_only=True, default=None, allow_null=True)
    subscription = serializers.CharField(
        source="subscription.external_id", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = DealRegistration
        fields = [
            "id", "partner", "partner_name", "registered_by", "company", "company_key", "domain", "use_case",
            "expected_usage", "plan", "currency", "expected_close", "notes", "status", "has_conflicts", "conflicts",
            "decision_reason", "decided_by", "decided_at", "protected_until", "is_protected", "customer",
            "subscription", "lost_reason", "closed_at", "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "company_key", "has_conflicts", "decision_reason", "decided_at", "protected_until", "lost_reason",
            "closed_at", "created_at",
        ]  # fmt: skip
        extra_kwargs = {"notes": {"required": False}}

    @extend_schema_field(DealConflictSerializer(many=True))
    def get_conflicts(self, deal) -> list:
        return visible_conflicts(deal, self.context["request"].user, now=timezone.now())

    def get_is_protected(self, deal) -> bool:
        return deal.is_protected()

    def perform_service_create(self, actor, data):
        return services.deal_register(actor=actor, **data)


class DealDetailSerializer(DealSerializer):
    proposal = serializers.JSONField(
        read_only=True,
        help_text="The plan priced over the expected usage: currency, lines (metric, model, quantity, amount, "
        "description, tiers), subtotal, total, computed_at.",
    )

    class Meta(DealSerializer.Meta):
        fields = [*DealSerializer.Meta.fields, "proposal"]


class DealApproveSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class DealReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class DealViewSet(ScopedModelViewSet):
    """Deal registrations in your scope: partner admins their partner's, reps those they registered,
    channel managers all, customers none. Partner users register; managers decide."""

    model = DealRegistration
    serializer_class = DealSerializer
    filterset_class = DealFilterSet
    select_related = ("partner", "plan", "registered_by", "decided_by", "customer", "subscription")
    ordering_fields = ["created_at", "expected_close", "company"]
    http_method_names = ["get", "post", "head", "options"]
    lookup_value_regex = r"\d+"

    def get_serializer_class(self):
        return DealSerializer if self.action == "list" else DealDetailSerializer

    def can_create(self):
        return can_register(self.request.user)

    def can_change(self, obj):
        # Nothing is edited in place (no PUT or PATCH); each action's service decides who may take it.
        return True

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        response.data = self._answer(response.data["id"])
        return response

    def _answer(self, pk):
        deal = self.get_queryset().get(pk=pk)
        return DealDetailSerializer(deal, context=self.get_serializer_context()).data

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise exceptions.MethodNotAllowed(
            request.method,
            detail="A registration is not edited: managers approve or reject it, its people mark it won or lost.",
        )

    @extend_schema(request=DealApproveSerializer, responses={200: DealDetailSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve (channel managers): protected for PRM_DEAL_PROTECTION_DAYS. Refused (400, `conflicts`) while
        another partner's approved registration of the same prospect is protected."""
        deal = self.get_object()
        data = DealApproveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(services.deal_approve, actor=request.user, deal=deal, reason=data.validated_data.get("reason", ""))
        return Response(self._answer(deal.pk))

    @extend_schema(request=DealReasonSerializer, responses={200: DealDetailSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject with a reason the partner reads (channel managers)."""
        deal = self.get_object()
        data = DealReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(services.deal_reject, actor=request.user, deal=deal, **data.validated_data)
        return Response(self._answer(deal.pk))

    @extend_schema(request=DealReasonSerializer, responses={200: DealDetailSerializer})
    @action(detail=True, methods=["post"])
    def lost(self, request, pk=None):
        """Mark a submitted or approved registration lost (its partner admin, its rep, channel managers)."""
        deal = self.get_object()
        data = DealReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(services.deal_mark_lost, actor=request.user, deal=deal, **data.validated_data)
        return Response(self._answer(deal.pk))

    @extend_schema(request=None, responses={200: DealDetailSerializer})
    @action(detail=True, methods=["post"])
    def proposal(self, request, pk=None):
        """Price the deal's plan over its expected usage again (at the plan's current prices) and keep it."""
        deal = self.get_object()
        call_service(services.deal_proposal_attach, actor=request.user, deal=deal)
        return Response(self._answer(deal.pk))
