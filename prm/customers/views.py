from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from prm.accounts.models import User
from prm.core.views import (
    ObjectCreateView,
    ObjectDetailView,
    ObjectEditView,
    ObjectListView,
    add_errors,
    report_form_errors,
)
from prm.customers import services
from prm.customers.filtersets import CustomerFilterSet
from prm.customers.forms import ChangeCommitmentForm, ChangePlanForm, CustomerForm, EndSubscriptionForm
from prm.customers.models import Customer, Subscription, SubscriptionChange, SubscriptionStatus
from prm.customers.permissions import can_change_subscription, can_create_customers, can_edit_customer
from prm.customers.tables import CustomerTable
from prm.plans.models import PlanVersion


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
    return [c for c in subscription.changes.all() if c.cancelled_at is None and c.effective_at > now]


class SubscriptionDetailView(ObjectDetailView):
    """A subscription's terms now, what is scheduled, its history, and (for those who may) the
    forms to change its plan or commitment or end it."""

    model = Subscription
    select_related = ("customer", "plan_version__plan")
    template_name = "customers/subscription_detail.html"

    def get_context_data(self, **kwargs):
        subscription = self.object
        now = timezone.now()
        history = list(
            subscription.changes.select_related("from_plan_version__plan", "to_plan_version__plan", "requested_by")
        )
        terms = subscription.terms_at(now, history)
        version = subscription.plan_version
        if terms.plan_version_id != version.pk:  # a plan change is scheduled
            version = PlanVersion.objects.select_related("plan").get(pk=terms.plan_version_id)
        can_change = can_change_subscription(self.request.user, subscription) and (
            subscription.status == SubscriptionStatus.ACTIVE
        )
        return super().get_context_data(
            now_version=version,
            now_commitment=terms.commitment,
            history=history,
            scheduled=[c for c in history if c.cancelled_at is None and c.effective_at > now],
            can_change=can_change,
            plan_form=ChangePlanForm(subscription=subscription, prefix="plan"),
            commitment_form=ChangeCommitmentForm(prefix="commitment"),
            end_form=EndSubscriptionForm(prefix="end"),
            **kwargs,
        )


def _subscription_form_view(form_class, prefix, service, message):
    """A POST from the subscription page: run the service, report back there."""

    @require_POST
    @login_required
    def view(request, pk):
        subscription = get_object_or_404(Subscription.objects.visible_to(request.user), pk=pk)
        extra = {"subscription": subscription} if form_class is ChangePlanForm else {}
        form = form_class(request.POST, prefix=prefix, **extra)
        if form.is_valid():
            fields = {name: value for name, value in form.cleaned_data.items() if value not in (None, "")}
            if form_class is ChangeCommitmentForm:
                fields.setdefault("commitment", None)
            try:
                service(actor=request.user, subscription=subscription, **fields)
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
        messages.success(request, "The scheduled change is cancelled.")
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    return redirect(change.subscription)


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
