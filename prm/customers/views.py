from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from prm.accounts.models import User
from prm.core.money import parse_decimal
from prm.core.views import (
    ObjectCreateView,
    ObjectDetailView,
    ObjectEditView,
    ObjectListView,
    add_errors,
    report_form_errors,
)
from prm.customers import services
from prm.customers.filtersets import CustomerFilterSet, SubscriptionChangeFilterSet
from prm.customers.forms import (
    ChangeCommitmentForm,
    ChangePlanForm,
    ContractPolicyForm,
    CustomerForm,
    EndSubscriptionForm,
    SubscriptionChangeDecisionForm,
)
from prm.customers.models import ContractPolicy, Customer, Subscription, SubscriptionChange, SubscriptionStatus
from prm.customers.permissions import (
    can_change_subscription,
    can_create_customers,
    can_decide_changes,
    can_edit_customer,
    can_end_subscription,
)
from prm.customers.tables import CustomerTable, SubscriptionChangeTable
from prm.plans.models import Plan, PlanVersion


class CustomerListView(ObjectListView):
    model = Customer
    table_class = CustomerTable
    filterset_class = CustomerFilterSet
    select_related = ("reseller", "assigned_rep")
    create_url_name = "customer_create"

    def can_create(self):
        return can_create_customers(self.request.user)

    def get_table_kwargs(self):
        # A partner's users have one reseller, themselves: the column would only repeat it.
        return {"exclude": ()} if self.request.user.is_manager else {"exclude": ("reseller",)}


class CustomerDetailView(ObjectDetailView):
    model = Customer
    select_related = ("reseller", "assigned_rep")
    template_name = "customers/customer_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_edit"] = can_edit_customer(self.request.user, self.object)
        context["people"] = User.objects.visible_to(self.request.user).filter(membership__customer=self.object)
        context["subscriptions"] = _with_terms_now(
            self.object.subscriptions.select_related("plan_version__plan").prefetch_related("changes")
        )
        return context


def _with_terms_now(subscriptions):
    """Each subscription with the plan version and commitment in force now (a lowered commitment
    or a plan change may be scheduled: the stored fields are the latest terms)."""
    now = timezone.now()
    rows = []
    for subscription in subscriptions:
        terms = subscription.terms_at(now, subscription.changes.all())
        rows.append({"subscription": subscription, "terms": terms, "scheduled": _scheduled(subscription, now)})
    return rows


def _scheduled(subscription, now):
    """Changes still to come: scheduled ones and those awaiting approval."""
    return [c for c in subscription.changes.all() if (c.in_force and c.effective_at > now) or c.is_pending]


class SubscriptionDetailView(ObjectDetailView):
    """A subscription's terms now, what is scheduled or awaits approval, its history, and (for
    those who may) the forms to preview and make a change of plan or commitment, to end it, or
    (channel managers) to decide on a pending change."""

    model = Subscription
    select_related = ("customer", "plan_version__plan")
    template_name = "customers/subscription_detail.html"

    def get_context_data(self, **kwargs):
        subscription = self.object
        user = self.request.user
        now = timezone.now()
        history = list(
            subscription.changes.select_related(
                "from_plan_version__plan", "to_plan_version__plan", "requested_by", "decided_by"
            )
        )
        terms = subscription.terms_at(now, history)
        version = subscription.plan_version
        if terms.plan_version_id != version.pk:  # a plan change is scheduled
            version = PlanVersion.objects.select_related("plan").get(pk=terms.plan_version_id)
        policy = ContractPolicy.current()
        active = subscription.status == SubscriptionStatus.ACTIVE
        return super().get_context_data(
            now_version=version,
            now_commitment=terms.commitment,
            history=history,
            scheduled=[c for c in history if c.in_force and c.effective_at > now],
            pending=[c for c in history if c.is_pending],
            can_change=active and can_change_subscription(user, subscription, policy),
            can_end=active and can_end_subscription(user, subscription),
            can_decide=can_decide_changes(user),
            policy=policy,
            plan_form=ChangePlanForm(
                subscription=subscription, actor=user, policy=policy, prefix="plan", initial=self._suggested_plan()
            ),
            commitment_form=ChangeCommitmentForm(prefix="commitment", initial=self._suggested_commitment()),
            end_form=EndSubscriptionForm(prefix="end"),
            decision_form=SubscriptionChangeDecisionForm(),
            **kwargs,
        )

    # A link may suggest a change to preview (a savings recommendation: ?plan=<code> or ?commitment=<amount>).
    def _suggested_plan(self) -> dict:
        code = self.request.GET.get("plan")
        plan = Plan.objects.filter(code=code).first() if code else None
        return {"plan": plan} if plan else {}

    def _suggested_commitment(self) -> dict:
        try:
            return {"commitment": parse_decimal(self.request.GET["commitment"])}
        except (KeyError, ValueError):
            return {}


def _subscription_form_view(form_class, prefix, service, message):
    """A POST from the subscription page (or the confirm step of the preview): run the service,
    report back on the subscription page."""

    @require_POST
    @login_required
    def view(request, pk):
        subscription = get_object_or_404(Subscription.objects.visible_to(request.user), pk=pk)
        extra = {"subscription": subscription, "actor": request.user} if form_class is ChangePlanForm else {}
        form = form_class(request.POST, prefix=prefix, **extra)
        if form.is_valid():
            fields = {name: value for name, value in form.cleaned_data.items() if value not in (None, "")}
            if form_class is ChangeCommitmentForm:
                fields.setdefault("commitment", None)
            try:
                result = service(actor=request.user, subscription=subscription, **fields)
                if isinstance(result, SubscriptionChange) and result.is_pending:
                    messages.success(request, "Change requested: it takes effect once a channel manager approves it.")
                else:
                    messages.success(request, message)
                return redirect(subscription)
            except ValidationError as error:
                add_errors(form, error)
            except PermissionDenied as error:
                messages.error(request, str(error))
                return redirect(subscription)
        report_form_errors(request, form)
        return redirect(subscription)

    return view


subscription_change_plan = _subscription_form_view(
    ChangePlanForm, "plan", services.subscription_change_plan, "Plan change recorded."
)
subscription_change_commitment = _subscription_form_view(
    ChangeCommitmentForm, "commitment", services.subscription_change_commitment, "Commitment change recorded."
)
subscription_end = _subscription_form_view(
    EndSubscriptionForm, "end", services.subscription_end, "Subscription end recorded."
)


@require_POST
@login_required
def subscription_change_cancel(request, pk):
    change = get_object_or_404(SubscriptionChange.objects.visible_to(request.user), pk=pk)
    try:
        services.subscription_change_cancel(actor=request.user, change=change)
        messages.success(request, "The change is withdrawn.")
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    return redirect(change.subscription)


def _decision_view(service, message):
    """Approve or reject a pending change (channel managers; anyone else who sees it: 403)."""

    @require_POST
    @login_required
    def view(request, pk):
        change = get_object_or_404(SubscriptionChange.objects.visible_to(request.user), pk=pk)
        form = SubscriptionChangeDecisionForm(request.POST)
        if form.is_valid():
            try:
                service(actor=request.user, change=change, note=form.cleaned_data["note"])
                messages.success(request, message)
                return redirect(change.subscription)
            except ValidationError as error:
                add_errors(form, error)
        report_form_errors(request, form)
        return redirect(change.subscription)

    return view


subscription_change_approve = _decision_view(services.subscription_change_approve, "The change is approved.")
subscription_change_reject = _decision_view(services.subscription_change_reject, "The change is rejected.")


class SubscriptionChangeListView(ObjectListView):
    """Contract changes in your scope; channel managers find the ones awaiting approval here."""

    model = SubscriptionChange
    table_class = SubscriptionChangeTable
    filterset_class = SubscriptionChangeFilterSet
    select_related = (
        "subscription__customer", "from_plan_version__plan", "to_plan_version__plan", "requested_by",
    )  # fmt: skip
    title = "Contract changes"


@login_required
def contract_policy(request):
    """The program's contract rules: read by everyone signed in, set by channel managers."""
    policy = ContractPolicy.current()
    may_edit = can_decide_changes(request.user)
    if request.method == "POST" and not may_edit:
        raise PermissionDenied
    form = ContractPolicyForm(request.POST or None, instance=policy) if may_edit else None
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        try:
            services.contract_policy_update(actor=request.user, **fields)
            messages.success(request, "Contract rules saved.")
            return redirect("contract_policy")
        except ValidationError as error:
            add_errors(form, error)
    return render(request, "customers/contract_policy.html", {"policy": policy, "form": form})


class CustomerCreateView(ObjectCreateView):
    model = Customer
    form_class = CustomerForm

    def can_create(self):
        return can_create_customers(self.request.user)

    def save(self, form):
        return services.customer_create(actor=self.request.user, **form.cleaned_data)


class CustomerEditView(ObjectEditView):
    model = Customer
    form_class = CustomerForm
    select_related = ("reseller",)

    def can_edit(self, obj):
        return can_edit_customer(self.request.user, obj)

    def save(self, form):
        fields = {name: value for name, value in form.cleaned_data.items() if name != "external_id"}
        return services.customer_update(actor=self.request.user, customer=self.object, **fields)
