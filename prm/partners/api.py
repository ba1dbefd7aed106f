from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from prm.accounts.models import Role, User
from prm.core.api import ScopedModelViewSet, ScopedReadOnlyViewSet
from prm.core.money import plain_decimal
from prm.core.serializers import ScopedRelatedFieldsMixin, ServiceSerializerMixin, call_service
from prm.partners import services
from prm.partners.filtersets import PartnerApplicationFilterSet, PartnerFilterSet, TierEvaluationFilterSet
from prm.partners.models import (
    ApplicationComment,
    OnboardingTask,
    Partner,
    PartnerApplication,
    PartnerTierChange,
    TargetMarket,
    Tier,
    TierEvaluation,
)
from prm.partners.permissions import can_manage_partners
from prm.partners.selectors import evidence_text, onboarding_tasks


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
    from_tier = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    to_tier = serializers.SlugRelatedField(slug_field="code", read_only=True)
    changed_by = serializers.EmailField(source="changed_by.email", read_only=True, default=None, allow_null=True)

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
            "id", "name", "website_domain", "country", "industry", "region", "tier", "stage", "channel_manager",
            "parent", "reason", "tier_history", "created_at", "updated_at",
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
    decided_by = serializers.EmailField(source="decided_by.email", read_only=True, default=None, allow_null=True)

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


# --- recruit: applications (channel managers only) ------------------------------------------------


class ApplicationCommentSerializer(serializers.Serializer):
    author = serializers.EmailField(source="author.email", read_only=True, default=None, allow_null=True)
    text = serializers.CharField(max_length=2000)
    created_at = serializers.DateTimeField(read_only=True)


class PartnerApplicationSerializer(serializers.ModelSerializer):
    # Plain strings, not enums: other apps' "status" enums already own that schema name.
    status = serializers.CharField(read_only=True, help_text="received, approved or rejected.")
    decided_by = serializers.EmailField(source="decided_by.email", read_only=True, default=None, allow_null=True)
    comments = ApplicationCommentSerializer(many=True, read_only=True)

    class Meta:
        model = PartnerApplication
        fields = [
            "id", "company", "website", "country", "industry", "region", "specialties", "expected_customers",
            "contact_name", "contact_email", "message", "status", "decided_by", "decided_at", "decision_reason",
            "partner", "comments", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class ApplicationApproveSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, help_text="Sent to the applicant.")


class ApplicationRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="Required; sent to the applicant by email.")


class PartnerApplicationViewSet(ScopedReadOnlyViewSet):
    """Applications to join the program (sent through the public form at /apply/). Only channel
    managers see them; they comment, approve (the partner is created and its admin invited) or
    reject with a reason."""

    model = PartnerApplication
    serializer_class = PartnerApplicationSerializer
    filterset_class = PartnerApplicationFilterSet
    select_related = ("decided_by",)
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        comments = Prefetch("comments", queryset=ApplicationComment.objects.select_related("author"))
        return super().get_queryset().prefetch_related(comments)

    @extend_schema(request=ApplicationCommentSerializer, responses={201: ApplicationCommentSerializer})
    @action(detail=True, methods=["post"])
    def comment(self, request, pk=None):
        application = self.get_object()  # 404 outside the caller's scope, before any 403
        data = ApplicationCommentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = call_service(
            services.partner_application_comment, actor=request.user, application=application,
            text=data.validated_data["text"],
        )  # fmt: skip
        return Response(ApplicationCommentSerializer(comment).data, status=201)

    @extend_schema(request=ApplicationApproveSerializer, responses={200: PartnerApplicationSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        application = self.get_object()
        data = ApplicationApproveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(
            services.partner_application_approve, actor=request.user, application=application,
            note=data.validated_data.get("note", ""),
        )  # fmt: skip
        return Response(PartnerApplicationSerializer(self.get_queryset().get(pk=application.pk)).data)

    @extend_schema(request=ApplicationRejectSerializer, responses={200: PartnerApplicationSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        application = self.get_object()
        data = ApplicationRejectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(
            services.partner_application_reject, actor=request.user, application=application,
            reason=data.validated_data["reason"],
        )  # fmt: skip
        return Response(PartnerApplicationSerializer(self.get_queryset().get(pk=application.pk)).data)


# --- onboard: checklists ----------------------------------------------------------------------------


class OnboardingTaskSerializer(serializers.ModelSerializer):
    partner_name = serializers.CharField(source="partner.name", read_only=True)
    key = serializers.CharField(source="item.key", read_only=True)
    title = serializers.CharField(source="item.title", read_only=True)
    description = serializers.CharField(source="item.description", read_only=True)
    order = serializers.IntegerField(source="item.order", read_only=True)
    done = serializers.SerializerMethodField(help_text="Marked done, or done by its evidence.")
    evidence = serializers.SerializerMethodField(help_text="Why the item is done by itself; empty otherwise.")
    done_by = serializers.EmailField(source="done_by.email", read_only=True, default=None, allow_null=True)

    class Meta:
        model = OnboardingTask
        fields = [
            "id", "partner", "partner_name", "key", "title", "description", "order", "done", "evidence", "done_at",
            "done_by", "note",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_done(self, task) -> bool:
        return task.done_at is not None or bool(self.get_evidence(task))

    @extend_schema_field(serializers.CharField())
    def get_evidence(self, task) -> str:
        return evidence_text(task.item.evidence, task.partner, getattr(task, "has_team", False))


class OnboardingCompleteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=300, help_text="How it was done.")


class OnboardingTaskViewSet(ScopedReadOnlyViewSet):
    """Each partner's onboarding checklist, one row per item: channel managers see every partner's,
    a partner's people their own. The partner's admins (and managers) mark items done; the last one
    moves the partner from onboard to enable."""

    model = OnboardingTask
    serializer_class = OnboardingTaskSerializer
    filterset_fields = ["partner"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return onboarding_tasks(self.request.user).order_by("partner__name", "item__order", "pk")

    @extend_schema(request=OnboardingCompleteSerializer, responses={200: OnboardingTaskSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        task = self.get_object()  # 404 outside the caller's scope, before any 403
        data = OnboardingCompleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(
            services.onboarding_task_complete, actor=request.user, task=task, note=data.validated_data.get("note", "")
        )
        return Response(OnboardingTaskSerializer(self.get_queryset().get(pk=task.pk)).data)


# --- strategize: target markets (channel managers only) ---------------------------------------------


class TargetMarketSerializer(ServiceSerializerMixin, serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DecimalField: PlainDecimalField,
    }
    currency = serializers.SerializerMethodField(help_text="The program currency of goal_consumption.")

    class Meta:
        model = TargetMarket
        fields = ["id", "industry", "region", "goal_partners", "goal_consumption", "currency", "notes", "updated_at"]
        read_only_fields = ["updated_at"]
        validators = []  # one target per industry × region: the service says so on `region`

    @extend_schema_field(serializers.CharField())
    def get_currency(self, market) -> str:
        return settings.PRM_PROGRAM_CURRENCY

    def perform_service_create(self, actor, data):
        return services.target_market_create(actor=actor, **data)

    def perform_service_update(self, actor, instance, data):
        return services.target_market_update(actor=actor, market=instance, **data)


class TargetMarketViewSet(ScopedModelViewSet):
    """Target markets (industry × region) with goals for partner coverage and consumption; the
    coverage view (/partners/coverage/) sets the actual figures against them. Channel managers only."""

    model = TargetMarket
    serializer_class = TargetMarketSerializer
    http_method_names = ["get", "post", "patch", "put", "delete", "head", "options"]
    lookup_value_regex = r"\d+"

    def can_create(self):
        return can_manage_partners(self.request.user)

    def can_change(self, obj):
        return can_manage_partners(self.request.user)

    def perform_destroy(self, instance):
        call_service(services.target_market_delete, actor=self.request.user, market=instance)
