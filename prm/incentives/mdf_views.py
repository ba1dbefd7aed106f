"""MDF pages under /incentives/mdf/: the requests (list, request form, one request with its decision,
claim and payment forms, its proof as a download) and, for channel managers, the budgets per tier
and quarter with what each has committed and what remains."""

import mimetypes
from pathlib import PurePath

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from prm.core.money import money_string
from prm.core.views import (
    ObjectCreateView,
    ObjectDetailView,
    ObjectEditView,
    ObjectListView,
    add_errors,
    report_form_errors,
)
from prm.incentives import mdf
from prm.incentives.mdf_filtersets import MdfBudgetFilterSet, MdfRequestFilterSet
from prm.incentives.mdf_forms import ApproveForm, ClaimForm, MdfBudgetForm, MdfRequestForm, PaidForm, RejectForm
from prm.incentives.mdf_tables import MdfBudgetTable, MdfRequestTable
from prm.incentives.models import MdfBudget, MdfRequest, MdfStatus

# A claim's body may be a little larger than its file (the other fields, the multipart framing).
CLAIM_MAX_BODY = mdf.MDF_PROOF_MAX_BYTES + 64 * 1024


class MdfRequestListView(ObjectListView):
    model = MdfRequest
    table_class = MdfRequestTable
    filterset_class = MdfRequestFilterSet
    select_related = ("partner",)
    template_name = "incentives/mdf_request_list.html"
    title = "Market development funds"
    create_url_name = "mdf_request_create"

    def can_create(self):
        return self.request.user.is_partner_admin


class MdfRequestCreateView(ObjectCreateView):
    model = MdfRequest
    form_class = MdfRequestForm
    template_name = "incentives/mdf_request_form.html"

    def can_create(self):
        return self.request.user.is_partner_admin

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs.pop("instance", None)
        return kwargs

    def get_context_data(self, **kwargs):
        tier = self.request.user.partner.tier
        return super().get_context_data(**kwargs) | {"title": "Request market development funds", "tier": tier}

    def save(self, form):
        return mdf.mdf_request_create(actor=self.request.user, **form.cleaned_data)


class MdfRequestDetailView(ObjectDetailView):
    model = MdfRequest
    select_related = ("partner__tier", "requested_by", "decided_by", "claimed_by", "paid_by", "budget__tier")
    template_name = "incentives/mdf_request_detail.html"
    context_object_name = "mdf_request"

    def get_context_data(self, **kwargs):
        request, user = self.object, self.request.user
        currency = request.currency
        figures = None
        if user.is_manager:
            budget = (
                request.budget or MdfBudget.objects.filter(tier=request.partner.tier, period=request.period).first()
            )
            if budget is not None:
                numbers = mdf.budget_figures(budget)
                figures = {
                    "budget": budget,
                    "amount": money_string(numbers.amount, numbers.currency),
                    "committed": money_string(numbers.committed, numbers.currency),
                    "remaining": money_string(numbers.remaining, numbers.currency),
                    "currency": numbers.currency,
                }
        return super().get_context_data(
            money={
                "amount": money_string(request.amount, currency),
                "claimed": money_string(request.claimed_amount, currency) if request.claimed_amount else None,
            },
            figures=figures,
            proof_name=PurePath(request.proof_file.name).name if request.proof_file else None,
            can_decide=user.is_manager and request.status == MdfStatus.REQUESTED,
            can_claim=user.is_partner_admin and request.status == MdfStatus.APPROVED,
            can_pay=user.is_manager and request.status == MdfStatus.CLAIMED,
            approve_form=ApproveForm(prefix="approve"),
            reject_form=RejectForm(prefix="reject"),
            claim_form=ClaimForm(prefix="claim"),
            paid_form=PaidForm(prefix="paid"),
            **kwargs,
        )


def _action(form_class, prefix, service, success):
    @require_POST
    @login_required
    def view(request, pk):
        obj = get_object_or_404(MdfRequest.objects.visible_to(request.user), pk=pk)
        if int(request.META.get("CONTENT_LENGTH") or 0) > CLAIM_MAX_BODY:
            # Refused before Django reads the body: an oversized upload never reaches the disk.
            messages.error(request, f"The upload is larger than {mdf.MDF_PROOF_MAX_BYTES // (1024 * 1024)} MB.")
            return redirect(obj)
        form = form_class(request.POST, request.FILES, prefix=prefix)
        if form.is_valid():
            try:
                obj = service(actor=request.user, request=obj, **form.cleaned_data)
                messages.success(request, success(obj))
                return redirect(obj)
            except ValidationError as error:
                add_errors(form, error)
        report_form_errors(request, form)
        return redirect(obj)

    return view


mdf_approve_view = _action(ApproveForm, "approve", mdf.mdf_request_approve, lambda r: "Approved; the partner is told.")
mdf_reject_view = _action(RejectForm, "reject", mdf.mdf_request_reject, lambda r: "Rejected; the partner is told.")
mdf_claim_view = _action(ClaimForm, "claim", mdf.mdf_request_claim, lambda r: "Claimed; the channel managers are told.")
mdf_paid_view = _action(PaidForm, "paid", mdf.mdf_request_mark_paid, lambda r: "Marked paid; the partner is told.")


@require_GET
@login_required
def mdf_proof_view(request, pk):
    """The claim's proof file, to those who see the request, always as a download (never rendered inline)."""
    obj = get_object_or_404(MdfRequest.objects.visible_to(request.user), pk=pk)
    if not obj.proof_file:
        raise Http404("No proof file.")
    name = PurePath(obj.proof_file.name).name
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(obj.proof_file.open("rb"), as_attachment=True, filename=name, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- budgets (channel managers) ---------------------------------------------------------------


class ManagersOnlyMixin:
    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not request.user.is_manager:
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class MdfBudgetListView(ManagersOnlyMixin, ObjectListView):
    model = MdfBudget
    table_class = MdfBudgetTable
    filterset_class = MdfBudgetFilterSet
    select_related = ("tier",)
    title = "MDF budgets"
    create_url_name = "mdf_budget_create"

    def can_create(self):
        return True


class MdfBudgetCreateView(ObjectCreateView):
    model = MdfBudget
    form_class = MdfBudgetForm

    def can_create(self):
        return self.request.user.is_manager

    def save(self, form):
        return mdf.mdf_budget_save(actor=self.request.user, **form.cleaned_data)

    def get_success_url(self):
        return reverse("mdf_budget_list")


class MdfBudgetEditView(ObjectEditView):
    model = MdfBudget
    form_class = MdfBudgetForm

    def can_edit(self, obj):
        return self.request.user.is_manager

    def save(self, form):
        return mdf.mdf_budget_save(actor=self.request.user, budget=self.object, **form.cleaned_data)

    def get_success_url(self):
        return reverse("mdf_budget_list")
