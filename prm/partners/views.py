from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from prm.core.views import (
    ObjectCreateView,
    ObjectDetailView,
    ObjectEditView,
    ObjectListView,
    add_errors,
    report_form_errors,
)
from prm.customers.models import Customer
from prm.partners import selectors, services
from prm.partners.filtersets import PartnerFilterSet, TierEvaluationFilterSet, TierFilterSet
from prm.partners.forms import PartnerForm, TierDecisionForm, TierForm
from prm.partners.models import EvaluationStatus, ExchangeRate, Partner, Stage, Tier, TierEvaluation
from prm.partners.permissions import can_manage_partners, can_see_tier_evaluations
from prm.partners.tables import PartnerTable, TierEvaluationTable, TierTable


class PartnerListView(ObjectListView):
    model = Partner
    table_class = PartnerTable
    filterset_class = PartnerFilterSet
    create_url_name = "partner_create"

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .select_related("tier", "channel_manager")
            .annotate(customer_count=Count("customers"))
            .order_by("name")  # Meta.ordering is dropped by the GROUP BY of the count
        )

    def can_create(self):
        return can_manage_partners(self.request.user)


class PartnerDetailView(ObjectDetailView):
    model = Partner
    select_related = ("tier", "channel_manager", "parent")
    template_name = "partners/partner_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        partner, user = self.object, self.request.user
        context["customers"] = Customer.objects.visible_to(user).filter(reseller=partner).select_related("assigned_rep")
        context["stage_changes"] = partner.stage_changes.select_related("changed_by")[:20]
        context["tier_changes"] = selectors.partner_tier_history(user, partner)[:20]
        context["tier_progress"] = selectors.partner_tier_progress(user, partner)
        context["resellers"] = Partner.objects.visible_to(user).filter(parent=partner)
        context["can_edit"] = can_manage_partners(user)
        context["lifecycle"] = lifecycle_steps(partner.stage)
        return context


def lifecycle_steps(current: str) -> list[dict]:
    """The seven stages with each one marked done, current or ahead, for the progress bar."""
    values = Stage.values
    reached = values.index(current)
    return [
        {"value": value, "label": label, "state": "done" if i < reached else "current" if i == reached else "ahead"}
        for i, (value, label) in enumerate(Stage.choices)
    ]


class PartnerCreateView(ObjectCreateView):
    model = Partner
    form_class = PartnerForm

    def can_create(self):
        return can_manage_partners(self.request.user)

    def save(self, form):
        fields = {name: value for name, value in form.cleaned_data.items() if name != "reason"}
        return services.partner_create(actor=self.request.user, **fields)


class PartnerEditView(ObjectEditView):
    model = Partner
    form_class = PartnerForm

    def can_edit(self, obj):
        return can_manage_partners(self.request.user)

    def save(self, form):
        fields = {name: value for name, value in form.cleaned_data.items() if name != "reason"}
        reason = form.cleaned_data.get("reason") or "Changed by a channel manager"
        return services.partner_update(actor=self.request.user, partner=self.object, reason=reason, **fields)


# --- program tiers ----------------------------------------------------------------------------


class TierListView(ObjectListView):
    model = Tier
    table_class = TierTable
    filterset_class = TierFilterSet
    template_name = "partners/tier_list.html"
    title = "Program tiers"
    create_url_name = "tier_create"

    def get_queryset(self):
        # Meta.ordering is dropped by the GROUP BY of the count.
        return super().get_queryset().annotate(partner_count=Count("partners")).order_by("rank")

    def get_table_kwargs(self):
        # How many partners sit in each tier, and the edit links, are the vendor's.
        return {} if can_manage_partners(self.request.user) else {"exclude": ("partner_count", "edit")}

    def can_create(self):
        return can_manage_partners(self.request.user)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            exchange_rates=ExchangeRate.objects.visible_to(self.request.user),
            program_currency=selectors.program_currency(),
            **kwargs,
        )


class TierCreateView(ObjectCreateView):
    model = Tier
    form_class = TierForm

    def can_create(self):
        return can_manage_partners(self.request.user)

    def save(self, form):
        return services.tier_create(actor=self.request.user, **form.cleaned_data)


class TierEditView(ObjectEditView):
    model = Tier
    form_class = TierForm

    def can_edit(self, obj):
        return can_manage_partners(self.request.user)

    def save(self, form):
        return services.tier_update(actor=self.request.user, tier=self.object, **form.cleaned_data)


# --- tier evaluations -------------------------------------------------------------------------


class TierEvaluationListView(ObjectListView):
    """The managers' queue (filter status=proposed); a partner's admins see their own evaluations."""

    model = TierEvaluation
    table_class = TierEvaluationTable
    filterset_class = TierEvaluationFilterSet
    select_related = ("partner", "current_tier", "proposed_tier", "decided_by")
    title = "Tier evaluations"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not can_see_tier_evaluations(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class TierEvaluationDetailView(ObjectDetailView):
    model = TierEvaluation
    select_related = ("partner__tier", "current_tier", "proposed_tier", "decided_by")
    template_name = "partners/tier_evaluation_detail.html"
    context_object_name = "evaluation"

    def get_context_data(self, **kwargs):
        evaluation, user = self.object, self.request.user
        evidence = evaluation.evidence
        can_decide = can_manage_partners(user) and evaluation.status == EvaluationStatus.PROPOSED
        return super().get_context_data(
            evidence=evidence,
            tiers=evidence.get("tiers", []),
            rates=sorted(evidence.get("rates", {}).items()),
            revenue=[
                {
                    "currency": currency,
                    "amount": amount,
                    "converted": evidence["trailing_revenue"]["converted"].get(currency),
                    "rate": evidence.get("rates", {}).get(currency, {}).get("rate"),
                }
                for currency, amount in evidence["trailing_revenue"]["by_currency"].items()
            ],
            stale=evaluation.status == EvaluationStatus.PROPOSED
            and evaluation.partner.tier_id != evaluation.current_tier_id,
            can_decide=can_decide,
            decision_form=TierDecisionForm(prefix="decision"),
            **kwargs,
        )


@require_POST
@login_required
def tier_evaluation_confirm(request, pk):
    return _decide(request, pk, services.tier_evaluation_confirm, "confirmed")


@require_POST
@login_required
def tier_evaluation_dismiss(request, pk):
    return _decide(request, pk, services.tier_evaluation_dismiss, "dismissed")


def _decide(request, pk, service, verb):
    # Scoped first: another tenant's evaluation is a 404; the service answers 403 to non-managers.
    evaluation = get_object_or_404(TierEvaluation.objects.visible_to(request.user), pk=pk)
    form = TierDecisionForm(request.POST, prefix="decision")
    if form.is_valid():
        try:
            service(actor=request.user, evaluation=evaluation, note=form.cleaned_data["note"])
            messages.success(request, f"Tier evaluation of {evaluation.partner} for {evaluation.period} {verb}.")
            return redirect(evaluation)
        except ValidationError as error:
            add_errors(form, error)
    report_form_errors(request, form)
    return redirect(evaluation)
