"""Deal pages: the pipeline (counts per status, filters, CSV), registering a deal (from the price
calculator too), one deal (its conflicts, its proposal — printable —, its history) and the forms
that move it: approve and reject (managers), price again, mark lost. Marking it won creates a
customer, a flow across apps: prm/dashboards/deal_actions.py posts it to prm/operations."""

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from prm.core.views import ObjectCreateView, ObjectDetailView, ObjectListView, add_errors, report_form_errors
from prm.deals import services
from prm.deals.conflicts import visible_conflicts
from prm.deals.filtersets import DealFilterSet
from prm.deals.forms import (
    USAGE_PREFIX,
    ApproveForm,
    DealRegistrationForm,
    LostForm,
    PlanChoiceForm,
    RejectForm,
    WonForm,
)
from prm.deals.models import DealRegistration, DealStatus
from prm.deals.permissions import can_close_lost, can_convert, can_decide, can_refresh_proposal, can_register
from prm.deals.tables import DealTable
from prm.plans.models import Metric, Plan


class DealListView(ObjectListView):
    model = DealRegistration
    table_class = DealTable
    filterset_class = DealFilterSet
    select_related = ("partner", "plan", "registered_by")
    template_name = "deals/deal_list.html"
    title = "Deal registrations"
    create_url_name = "deal_create"

    def can_create(self):
        return can_register(self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # The pipeline: every status with its count in the user's scope (one grouped query).
        counts = dict(self.get_queryset().order_by().values_list("status").annotate(Count("pk")))
        context["pipeline"] = [
            {"status": status, "label": label, "count": counts.get(status, 0)} for status, label in DealStatus.choices
        ]
        context["pipeline_total"] = sum(counts.values())
        context["protection_days"] = services.protection_days()
        return context


class DealCreateView(ObjectCreateView):
    """Step 1 (no plan yet): choose the plan. Step 2: the deal, with the plan's usage fields."""

    model = DealRegistration
    form_class = DealRegistrationForm
    template_name = "deals/deal_form.html"

    def can_create(self):
        return can_register(self.request.user)

    def _plan(self):
        code = self.request.POST.get("plan") or self.request.GET.get("plan")
        return Plan.objects.filter(code=code, is_active=True).first() if code else None

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs.pop("instance", None)  # a plain form: the service makes the registration
        initial_usage = {
            key.removeprefix(USAGE_PREFIX): value
            for key, value in self.request.GET.items()
            if key.startswith(USAGE_PREFIX)
        }
        return {**kwargs, "plan": self._plan(), "initial_usage": initial_usage}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = "Register a deal"
        if context["form"].chosen_plan is None:
            context["plan_form"] = PlanChoiceForm(self.request.GET or None)
        return context

    def post(self, request, *args, **kwargs):
        if self._plan() is None:
            messages.error(request, "Choose an active plan first.")
            return HttpResponseRedirect(reverse("deal_create"))
        return super().post(request, *args, **kwargs)

    def save(self, form):
        data = form.cleaned_data
        deal = services.deal_register(
            actor=self.request.user, company=data["company"], domain=data["domain"], plan=data["plan"],
            expected_close=data["expected_close"], expected_usage=data["expected_usage"],
            use_case=data.get("use_case", ""), notes=data.get("notes", ""),
        )  # fmt: skip
        if deal.has_conflicts:
            messages.warning(
                self.request,
                f"The registration conflicts with {len(deal.conflicts)} other record(s); a channel manager decides.",
            )
        return deal


class DealDetailView(ObjectDetailView):
    model = DealRegistration
    select_related = ("partner", "plan", "registered_by", "decided_by", "closed_by", "customer", "subscription")
    template_name = "deals/deal_detail.html"
    context_object_name = "deal"

    def get_context_data(self, **kwargs):
        deal, user, now = self.object, self.request.user, timezone.now()
        metrics = {metric.code: metric for metric in Metric.objects.filter(code__in=list(deal.expected_usage or {}))}
        usage = [
            {"code": code, "metric": metrics.get(code), "quantity": quantity}
            for code, quantity in (deal.expected_usage or {}).items()
        ]
        open_deal = deal.status in (DealStatus.SUBMITTED, DealStatus.APPROVED)
        return super().get_context_data(
            conflicts=visible_conflicts(deal, user, now=now),
            usage=usage,
            proposal=deal.proposal,
            proposal_computed_at=datetime.fromisoformat(deal.proposal["computed_at"]) if deal.proposal else None,
            is_protected=deal.is_protected(now),
            history=_history(deal),
            can_decide=can_decide(user) and deal.status == DealStatus.SUBMITTED,
            can_convert=can_convert(user, deal) and deal.status == DealStatus.APPROVED,
            can_close_lost=can_close_lost(user, deal) and open_deal,
            can_refresh_proposal=can_refresh_proposal(user, deal) and open_deal,
            approve_form=ApproveForm(prefix="approve"),
            reject_form=RejectForm(prefix="reject"),
            lost_form=LostForm(prefix="lost"),
            won_form=WonForm(prefix="won"),
            **kwargs,
        )


def _history(deal: DealRegistration) -> list[dict]:
    who = deal.registered_by.display_name if deal.registered_by else "someone"
    history = [{"at": deal.created_at, "text": f"Registered by {who}."}]
    decider = deal.decided_by.display_name if deal.decided_by else "a channel manager"
    if deal.decided_at:
        verb = "Rejected" if deal.status == DealStatus.REJECTED else "Approved"
        reason = f": {deal.decision_reason}" if deal.decision_reason else "."
        history.append({"at": deal.decided_at, "text": f"{verb} by {decider}{reason}"})
    closer = deal.closed_by.display_name if deal.closed_by else "someone"
    if deal.status == DealStatus.WON:
        history.append(
            {
                "at": deal.closed_at,
                "text": f"Won, marked by {closer}: customer {deal.customer.external_id} created.",
                "url": deal.customer.get_absolute_url(),
            }
        )
    elif deal.status == DealStatus.LOST:
        history.append({"at": deal.closed_at, "text": f"Lost, marked by {closer}: {deal.lost_reason}"})
    return history


def _action(form_class, prefix, service, success):
    """A POST from the deal page: the form's errors and the service's come back as messages there."""

    @require_POST
    @login_required
    def view(request, pk):
        deal = get_object_or_404(DealRegistration.objects.visible_to(request.user), pk=pk)
        form = form_class(request.POST, prefix=prefix) if form_class else None
        if form is None or form.is_valid():
            try:
                deal = service(actor=request.user, deal=deal, **(form.cleaned_data if form else {}))
                messages.success(request, success(deal))
                return redirect(deal)
            except ValidationError as error:
                if form is None:
                    messages.error(request, " ".join(error.messages))
                    return redirect(deal)
                add_errors(form, error)
        report_form_errors(request, form)
        return redirect(deal)

    return view


deal_approve_view = _action(
    ApproveForm, "approve", services.deal_approve,
    lambda deal: f"Approved: protected until {deal.protected_until:%Y-%m-%d}.",
)  # fmt: skip
deal_reject_view = _action(RejectForm, "reject", services.deal_reject, lambda deal: "Rejected; the partner is told.")
deal_lost_view = _action(LostForm, "lost", services.deal_mark_lost, lambda deal: "Marked lost.")
deal_proposal_view = _action(
    None, "proposal", services.deal_proposal_attach, lambda deal: f"Priced again: {deal.proposal['total']} "
    f"{deal.proposal['currency']} per month."
)  # fmt: skip
