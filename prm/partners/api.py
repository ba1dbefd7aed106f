from decimal import Decimal

from django.db import models
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from prm.accounts.models import Role, User
from prm.core.api import ScopedModelViewSet, ScopedReadOnlyViewSet
from prm.core.money import plain_decimal
from prm.core.serializers import ScopedRelatedFieldsMixin, ServiceSerializerMixin, call_service
from prm.partners import services
from prm.partners.filtersets import PartnerFilterSet, TierEvaluationFilterSet
from prm.partners.models import Partner, PartnerTierChange, Tier, TierEvaluation
from prm.partners.permissions import can_manage_partners


class PlainDecimalField(serializers.DecimalField):
    """A decimal read and written as a string, shown without trailing zeros ("12.5", not "12.5000")."""

    def to_representation(self, value):
        return plain_decimal(Decimal(value))


class TierSerializer(ServiceSerializerMixin, serializers.ModelSerializer):
    """A program tier: its criteria (empty: no requirement) and its benefits. Percentages are in
    percent (12.5 means 12.5 %); the trailing revenue is in the program currency."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DecimalField: PlainDecimalField,
    }

    class Meta:
        model = Tier
        fields = [
            "id", "code", "name", "rank", "description",
            "min_trailing_revenue", "min_active_customers", "min_certified_people", "min_growth_percent",
            "base_commission_rate", "list_discount_percent", "mdf_eligible",
        ]  # fmt: skip

    def perform_service_create(self, actor, data):
        return services.tier_create(actor=actor, **data)

    def perform_service_update(self, actor, instance, data):
        return services.tier_update(actor=actor, tier=instance, **data)


class PartnerTierChangeSerializer(serializers.ModelSerializer):
    from_tier = serializers.SlugRelatedField(slug_field="code", read_only=True)
    to_tier = serializers.SlugRelatedField(slug_field="code", read_only=True)
    changed_by = serializers.EmailField(source="changed_by.email", read_only=True, default=None)

    class Meta:
        model = PartnerTierChange
        fields = ["from_tier", "to_tier", "reason", "evaluation", "changed_by", "changed_at"]
        read_only_fields = fields


class PartnerSerializer(ScopedRelatedFieldsMixin, ServiceSerializerMixin, serializers.ModelSerializer):
    tier = serializers.SlugRelatedField(slug_field="code", queryset=Tier.objects.all())
    channel_manager = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(membership__role=Role.MANAGER), allow_null=True, required=False
    )
    reason = serializers.CharField(write_only=True, required=False, max_length=300)
    tier_history = PartnerTierChangeSerializer(
        source="tier_changes", many=True, read_only=True, help_text="The partner's tier moves, newest first."
    )

    class Meta:
        model = Partner
        fields = [
            "id", "name", "website_domain", "country", "tier", "stage", "channel_manager", "parent",
            "reason", "tier_history", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]

    scoped_related = {"parent": "partners.Partner"}

    def perform_service_create(self, actor, data):
        data.pop("reason", None)
        return services.partner_create(actor=actor, **data)

    def perform_service_update(self, actor, instance, data):
        reason = data.pop("reason", None) or "Changed through the API"
        return services.partner_update(actor=actor, partner=instance, reason=reason, **data)


class PartnerViewSet(ScopedModelViewSet):
    """Partners: managers see and configure all; a partner's users read their own."""

    model = Partner
    serializer_class = PartnerSerializer
    filterset_class = PartnerFilterSet
    select_related = ("tier",)
    ordering_fields = ["name", "created_at", "stage"]

    def get_queryset(self):
        history = PartnerTierChange.objects.select_related("from_tier", "to_tier", "changed_by")
        return super().get_queryset().prefetch_related(Prefetch("tier_changes", queryset=history))

    def can_create(self):
        return can_manage_partners(self.request.user)

    def can_change(self, obj):
        return can_manage_partners(self.request.user)


class TierViewSet(ScopedModelViewSet):
    """Program tiers with their criteria and benefits: readable by everyone signed in, configured
    by channel managers (errors name the field: a rate outside 0–100, a negative threshold …)."""

    model = Tier
    serializer_class = TierSerializer
    lookup_value_regex = r"\d+"

    def can_create(self):
        return can_manage_partners(self.request.user)

    def can_change(self, obj):
        return can_manage_partners(self.request.user)


class TierEvaluationSerializer(serializers.ModelSerializer):
    partner_name = serializers.CharField(source="partner.name", read_only=True)
    current_tier = serializers.SlugRelatedField(slug_field="code", read_only=True)
    proposed_tier = serializers.SlugRelatedField(slug_field="code", read_only=True)
    # Plain strings, not enums: other apps' "status" enums already own that schema name.
    direction = serializers.CharField(read_only=True, help_text="up, down or stay.")
    status = serializers.CharField(
        read_only=True, help_text="proposed, confirmed, dismissed, or recorded (no change: nothing to decide)."
    )
    decided_by = serializers.EmailField(source="decided_by.email", read_only=True, default=None)

    class Meta:
        model = TierEvaluation
        fields = [
            "id", "partner", "partner_name", "period", "current_tier", "proposed_tier", "direction", "status",
            "evidence", "decided_by", "decided_at", "note", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class TierDecisionSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, help_text="Kept with the decision.")


class TierEvaluationViewSet(ScopedReadOnlyViewSet):
    """Monthly tier evaluations with their evidence: managers see all and decide the proposed
    ones (confirm moves the partner, dismiss leaves it); a partner's admins read their own."""

    model = TierEvaluation
    serializer_class = TierEvaluationSerializer
    filterset_class = TierEvaluationFilterSet
    select_related = ("partner", "current_tier", "proposed_tier", "decided_by")
    lookup_value_regex = r"\d+"

    @extend_schema(request=TierDecisionSerializer, responses={200: TierEvaluationSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        return self._decide(services.tier_evaluation_confirm)

    @extend_schema(request=TierDecisionSerializer, responses={200: TierEvaluationSerializer})
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        return self._decide(services.tier_evaluation_dismiss)

    def _decide(self, service):
        evaluation = self.get_object()  # 404 outside the caller's scope, before any 403
        data = TierDecisionSerializer(data=self.request.data)
        data.is_valid(raise_exception=True)
        call_service(service, actor=self.request.user, evaluation=evaluation, note=data.validated_data.get("note", ""))
        return Response(TierEvaluationSerializer(self.get_queryset().get(pk=evaluation.pk)).data)
