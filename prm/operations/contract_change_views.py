"""The price-impact preview of a contract change, over the API and in the portal.

    POST /api/v1/subscriptions/{id}/change-preview/ {"kind": "plan", "plan": "<code>", "effective_at"?}
                                                    {"kind": "commitment", "commitment": "1000" | null, "effective_at"?}
    GET  /customers/subscriptions/{id}/change-preview/?kind=commitment&commitment-commitment=1000

Both live here rather than with the subscription's other actions (prm/customers) because pricing a
change needs billing, which customers may not import. The portal page is the first step of the
two-step change: Preview (the impact table, when it takes effect, whether it needs approval) →
Confirm, which posts the same fields to the subscription's change form.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, render
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from prm.core.serializers import call_service
from prm.core.views import add_errors
from prm.customers.forms import ChangeCommitmentForm, ChangePlanForm
from prm.customers.models import ChangeKind, ContractPolicy, Subscription
from prm.customers.permissions import can_change_subscription
from prm.operations.contract_changes import contract_change_preview
from prm.plans.models import Plan

# --- API ----------------------------------------------------------------------------------------


class ChangePreviewSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ChangeKind.choices)
    plan = serializers.SlugRelatedField(
        slug_field="code", queryset=Plan.objects.all(), required=False, help_text="For a plan change: its code."
    )
    commitment = serializers.DecimalField(
        max_digits=20, decimal_places=3, allow_null=True, min_value=0, required=False,
        help_text="For a commitment change: the committed spend per period; null falls back to the plan's minimum.",
    )  # fmt: skip
    effective_at = serializers.DateTimeField(
        required=False, help_text="As for change-plan / change-commitment: default now, or a period end to lower."
    )

    def validate(self, attrs):
        if attrs["kind"] == ChangeKind.PLAN and attrs.get("plan") is None:
            raise serializers.ValidationError({"plan": "A plan change names the plan to move to."})
        if attrs["kind"] == ChangeKind.COMMITMENT and "commitment" not in attrs:
            raise serializers.ValidationError(
                {"commitment": "A commitment change names the new commitment (null: the plan's minimum)."}
            )
        return attrs


class _PlanRef(serializers.Serializer):
    code = serializers.CharField()
    version = serializers.IntegerField()


class _Terms(serializers.Serializer):
    plan = _PlanRef()
    commitment = serializers.CharField(allow_null=True)


class _Line(serializers.Serializer):
    metric = serializers.CharField(allow_null=True)
    model = serializers.CharField()
    quantity = serializers.CharField()
    amount = serializers.CharField()
    description = serializers.CharField()


class _Quote(serializers.Serializer):
    lines = _Line(many=True)
    subtotal = serializers.CharField()
    total = serializers.CharField()


class _Row(serializers.Serializer):
    item = serializers.CharField(help_text="A metric's usage charges, the flat fees, or the minimum's true-up.")
    metric = serializers.CharField(allow_null=True)
    as_is = serializers.CharField()
    with_change = serializers.CharField()
    difference = serializers.CharField(help_text="with_change − as_is")


class _Comparison(serializers.Serializer):
    title = serializers.CharField()
    period = serializers.CharField()
    usage_period = serializers.CharField(help_text="The period whose usage is priced.")
    usage = serializers.DictField(child=serializers.CharField(), help_text="Metric code → quantity priced.")
    rows = _Row(many=True)
    as_is = _Quote()
    with_change = _Quote()
    difference = serializers.CharField()
    notes = serializers.ListField(child=serializers.CharField())


class ChangePreviewResponseSerializer(serializers.Serializer):
    subscription = serializers.CharField()
    kind = serializers.CharField()
    summary = serializers.CharField()
    effective_at = serializers.DateTimeField(help_text="When the change would take effect, by the billing rules.")
    reduction = serializers.BooleanField(help_text="A lowered commitment or a plan downgrade.")
    approval_required = serializers.BooleanField(help_text="Made now, it would wait for a channel manager.")
    locals()["from"] = _Terms()  # "from" is a keyword: the field is declared through the class namespace
    to = _Terms()
    currency = serializers.CharField()
    as_of = serializers.DateTimeField()
    open_period = _Comparison(allow_null=True, help_text="The open period projected to its end; null: too early.")
    open_period_note = serializers.CharField()
    full_period = _Comparison()


class SubscriptionChangePreviewView(APIView):
    """The price impact of a plan or commitment change before making it: the open period projected to
    its end and a full period at last period's usage, as is and with the change, line by line. The
    same checks as the change itself (400 naming the field, 403); nothing is written."""

    @extend_schema(request=ChangePreviewSerializer, responses={200: ChangePreviewResponseSerializer})
    def post(self, request, pk):
        subscription = get_object_or_404(Subscription.objects.visible_to(request.user), pk=pk)
        data = ChangePreviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        preview = call_service(
            contract_change_preview, actor=request.user, subscription=subscription, **data.validated_data
        )
        return Response(preview.as_dict())


# --- portal -------------------------------------------------------------------------------------


@login_required
def subscription_change_preview(request, pk):
    """Step one of a change from the subscription page: the impact, then a Confirm button."""
    subscription = get_object_or_404(
        Subscription.objects.visible_to(request.user).select_related("customer", "plan_version__plan"), pk=pk
    )
    policy = ContractPolicy.current()
    if not can_change_subscription(request.user, subscription, policy):
        raise PermissionDenied
    kind = request.GET.get("kind")
    data = request.GET if kind in ChangeKind.values else None
    plan_form = ChangePlanForm(
        data if kind == ChangeKind.PLAN else None,
        subscription=subscription, actor=request.user, policy=policy, prefix="plan",
    )  # fmt: skip
    commitment_form = ChangeCommitmentForm(data if kind == ChangeKind.COMMITMENT else None, prefix="commitment")
    form = {ChangeKind.PLAN: plan_form, ChangeKind.COMMITMENT: commitment_form}.get(kind)
    preview = None
    if form is not None and form.is_valid():
        fields = {name: value for name, value in form.cleaned_data.items() if name != "reason"}
        fields = {name: value for name, value in fields.items() if value not in (None, "") or name == "commitment"}
        try:
            preview = contract_change_preview(actor=request.user, subscription=subscription, kind=kind, **fields)
        except ValidationError as error:
            add_errors(form, error)
    context = {
        "subscription": subscription,
        "kind": kind,
        "plan_form": plan_form,
        "commitment_form": commitment_form,
        "preview": preview,
        "policy": policy,
    }
    if preview is not None:
        # Confirm posts what was asked (not the moment resolved now: "now" is then).
        names = [form.add_prefix(name) for name in form.fields]
        context["confirm_fields"] = [(name, form.data.get(name, "")) for name in names]
        context["confirm_url_name"] = f"subscription_change_{kind}"
    return render(request, "customers/subscription_change_preview.html", context)
