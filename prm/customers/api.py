from decimal import Decimal

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from prm.accounts.models import PARTNER_ROLES, User
from prm.core.api import ScopedModelViewSet, ScopedReadOnlyViewSet
from prm.core.serializers import ScopedRelatedFieldsMixin, ServiceSerializerMixin, call_service
from prm.customers import services
from prm.customers.filtersets import CustomerFilterSet
from prm.customers.models import ContractPolicy, Customer, Subscription, SubscriptionChange
from prm.customers.permissions import can_create_customers, can_decide_changes, can_edit_customer
from prm.plans.models import Plan


# {"code": "<plan code>", "version": <n>} or null
class PlanRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    version = serializers.IntegerField()


PLAN_REF = PlanRefSerializer(allow_null=True)  # a plan version, or null when the change keeps the plan


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


class SubscriptionChangeSerializer(serializers.ModelSerializer):
    subscription = serializers.CharField(source="subscription.external_id", read_only=True)
    from_plan = serializers.SerializerMethodField()
    to_plan = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()

    class Meta:
        model = SubscriptionChange
        fields = [
            "id", "subscription", "kind", "effective_at", "status", "from_plan", "to_plan", "from_commitment",
            "to_commitment", "reason", "requested_by", "created_at", "cancelled_at", "approval", "decided_by",
            "decided_at", "decision_note",
        ]  # fmt: skip
        read_only_fields = fields

    @staticmethod
    def _plan(version) -> dict | None:
        return None if version is None else {"code": version.plan.code, "version": version.version}

    @extend_schema_field(PLAN_REF)
    def get_from_plan(self, change) -> dict | None:
        return self._plan(change.from_plan_version)

    @extend_schema_field(PLAN_REF)
    def get_to_plan(self, change) -> dict | None:
        return self._plan(change.to_plan_version)

    def get_status(self, change) -> str:
        """scheduled (not in effect yet), effective, cancelled, pending (awaiting a channel manager's
        approval: the terms are unchanged until then) or rejected."""
        return change.status_at(timezone.now())


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
            "commitment", "status", "created_at", "changes",
        ]  # fmt: skip
        read_only_fields = ["status", "created_at"]

    changes = SubscriptionChangeSerializer(many=True, read_only=True, help_text=(
        "The history of plan and commitment changes, newest first; plan_code, plan_version and commitment "
        "are the latest terms, a scheduled change included."
    ))  # fmt: skip

    scoped_related = {"customer": "customers.Customer"}

    def perform_service_create(self, actor, data):
        plan = data.pop("plan_version")["plan"]
        return services.subscription_create(actor=actor, plan=plan, **data)


class ChangePlanSerializer(serializers.Serializer):
    plan = serializers.SlugRelatedField(slug_field="code", queryset=Plan.objects.all())
    effective_at = serializers.DateTimeField(required=False, help_text="Default: now.")
    reason = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class ChangeCommitmentSerializer(serializers.Serializer):
    commitment = serializers.DecimalField(
        max_digits=20, decimal_places=3, allow_null=True, min_value=Decimal(0),
        help_text="The committed spend per period; null falls back to the plan's minimum.",
    )  # fmt: skip
    effective_at = serializers.DateTimeField(
        required=False, help_text="Default: now for a raise, the end of the current period for a lowering."
    )
    reason = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class DecisionSerializer(serializers.Serializer):
    note = serializers.CharField(
        max_length=500, required=False, default="", allow_blank=True,
        help_text="Told to the person who asked for the change; required to reject.",
    )  # fmt: skip


class EndSerializer(serializers.Serializer):
    ended_at = serializers.DateTimeField(required=False, help_text="Default: now.")
    reason = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class SubscriptionViewSet(ScopedModelViewSet):
    """Subscriptions in your scope; managers and partner admins subscribe their customers, change
    their plan (prorated, usage split at the moment) or commitment (raised at once, lowered at the
    end of a period), and end them. Each change is kept in `changes`.

    Customer admins change their own subscriptions' plan and commitment too, within the program's
    contract rules; a change those rules send for approval is answered with the subscription
    unchanged and the change in `changes` with status "pending". `POST change-preview/` shows the
    price impact of a change before it is made."""

    model = Subscription
    serializer_class = SubscriptionSerializer
    select_related = ("customer", "plan_version__plan")
    filterset_fields = ["status", "external_id"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        history = SubscriptionChange.objects.select_related("from_plan_version__plan", "to_plan_version__plan")
        return super().get_queryset().prefetch_related(Prefetch("changes", queryset=history))

    def can_create(self):
        return can_create_customers(self.request.user)

    def can_change(self, obj):
        # Every write on a subscription is one of the actions below, each calling a service that
        # checks the actor itself and answers 403 saying why (the contract rules may be the reason).
        return True

    def _answer(self, subscription):
        return Response(self.get_serializer(self.get_queryset().get(pk=subscription.pk)).data)

    @extend_schema(request=ChangePlanSerializer, responses={200: SubscriptionSerializer})
    @action(detail=True, methods=["post"], url_path="change-plan")
    def change_plan(self, request, pk=None):
        subscription = self.get_object()
        data = ChangePlanSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(services.subscription_change_plan, actor=request.user, subscription=subscription,
                     **data.validated_data)  # fmt: skip
        return self._answer(subscription)

    @extend_schema(request=ChangeCommitmentSerializer, responses={200: SubscriptionSerializer})
    @action(detail=True, methods=["post"], url_path="change-commitment")
    def change_commitment(self, request, pk=None):
        subscription = self.get_object()
        data = ChangeCommitmentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(services.subscription_change_commitment, actor=request.user, subscription=subscription,
                     **data.validated_data)  # fmt: skip
        return self._answer(subscription)

    @extend_schema(request=EndSerializer, responses={200: SubscriptionSerializer})
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        subscription = self.get_object()
        data = EndSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(services.subscription_end, actor=request.user, subscription=subscription, **data.validated_data)
        return self._answer(subscription)


class SubscriptionChangeViewSet(ScopedReadOnlyViewSet):
    """The history of subscription changes in your scope; a scheduled or pending one can be
    cancelled; channel managers approve or reject a pending one (`?approval=pending` lists them)."""

    model = SubscriptionChange
    serializer_class = SubscriptionChangeSerializer
    select_related = ("subscription", "from_plan_version__plan", "to_plan_version__plan")
    filterset_fields = ["kind", "approval"]

    def _answer(self, change):
        return Response(self.get_serializer(self.get_queryset().get(pk=change.pk)).data)

    @extend_schema(request=None, responses={200: SubscriptionChangeSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        change = self.get_object()
        call_service(services.subscription_change_cancel, actor=request.user, change=change)
        return self._answer(change)

    @extend_schema(request=DecisionSerializer, responses={200: SubscriptionChangeSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve a pending change (channel managers): it takes effect by the billing rules from now."""
        change = self.get_object()
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(services.subscription_change_approve, actor=request.user, change=change, **data.validated_data)
        return self._answer(change)

    @extend_schema(request=DecisionSerializer, responses={200: SubscriptionChangeSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject a pending change with a note (channel managers); nothing changes."""
        change = self.get_object()
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(services.subscription_change_reject, actor=request.user, change=change, **data.validated_data)
        return self._answer(change)


class ContractPolicySerializer(serializers.ModelSerializer):
    self_service_plans = serializers.SlugRelatedField(
        slug_field="code",
        many=True,
        required=False,
        queryset=Plan.objects.all(),
        help_text="Plan codes customers may pick when `plan_choice` is `chosen`.",
    )
    updated_by = serializers.EmailField(source="updated_by.email", read_only=True, default=None, allow_null=True)

    class Meta:
        model = ContractPolicy
        fields = [
            "customer_self_service", "plan_choice", "self_service_plans", "commitment_minimum", "commitment_step",
            "lowering_notice_days", "one_plan_change_per_period", "approval", "updated_at", "updated_by",
        ]  # fmt: skip
        read_only_fields = ["updated_at"]


class ContractPolicyView(APIView):
    """The program's rules for self-service contract changes (the portal's Contract rules page):
    read by everyone signed in, set by channel managers (`PUT` all fields, `PATCH` some)."""

    serializer_class = ContractPolicySerializer

    def get(self, request):
        return Response(ContractPolicySerializer(ContractPolicy.current()).data)

    @extend_schema(request=ContractPolicySerializer, responses={200: ContractPolicySerializer})
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(request=ContractPolicySerializer, responses={200: ContractPolicySerializer})
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial):
        if not can_decide_changes(request.user):
            raise exceptions.PermissionDenied("Only channel managers set the program's contract rules.")
        serializer = ContractPolicySerializer(ContractPolicy.current(), data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        fields.pop("updated_by", None)
        policy = call_service(services.contract_policy_update, actor=request.user, **fields)
        return Response(ContractPolicySerializer(policy).data)
