from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from prm.billing import credits, recommendations, services
from prm.billing.filtersets import CreditGrantFilterSet, InvoiceFilterSet, RecommendationFilterSet
from prm.billing.forms import CreditNoteForm, CreditPackForm, VoidForm
from prm.billing.models import CreditGrant, Invoice, InvoiceStatus, Recommendation
from prm.billing.tables import CreditGrantTable, InvoiceTable, RecommendationTable
from prm.core.money import money_string, parse_decimal, plain_decimal
from prm.core.views import ObjectCreateView, ObjectDetailView, ObjectListView, add_errors, report_form_errors
from prm.customers.permissions import can_change_subscription


class InvoiceListView(ObjectListView):
    model = Invoice
    table_class = InvoiceTable
    filterset_class = InvoiceFilterSet
    select_related = ("customer", "subscription")
    title = "Invoices"


class InvoiceDetailView(ObjectDetailView):
    model = Invoice
    select_related = ("customer", "subscription", "plan_version__plan")
    template_name = "billing/invoice_detail.html"

    def get_context_data(self, **kwargs):
        invoice = self.object
        currency = invoice.currency
        usage_url = reverse("usage_event_list")
        lines = []
        for line in invoice.lines.select_related("metric"):
            usage = None
            if line.metric is not None:
                query = {
                    "customer": invoice.customer.external_id,
                    "metric": line.metric.code,
                    # A line of one phase of a plan change links to that phase's usage only.
                    "timestamp_after": line.charge.get("phase", {}).get("start") or invoice.service_start.isoformat(),
                    "timestamp_before": line.charge.get("phase", {}).get("end") or invoice.service_end.isoformat(),
                }
                usage = f"{usage_url}?{urlencode(query)}"
            grants = [
                {
                    "name": drawn["name"],
                    "url": reverse("credit_grant_detail", args=[drawn["grant"]]),
                    "applied": money_string(parse_decimal(drawn["applied"]), currency),
                    "available": money_string(parse_decimal(drawn["available"]), currency),
                }
                for drawn in (line.charge.get("grants", []) if line.model == credits.CREDIT_LINE else [])
            ]
            lines.append(
                {
                    "line": line,
                    # Plain, so 3000 does not read 3E+3 (Decimal.normalize's way of writing it).
                    "quantity": plain_decimal(line.quantity),
                    "amount": money_string(line.amount, currency),
                    "usage_url": usage,
                    "grants": grants,
                }
            )
        is_manager = self.request.user.is_manager
        return super().get_context_data(
            lines=lines,
            credit_notes=[
                {"note": note, "amount": money_string(note.amount, currency)}
                for note in invoice.credit_notes.select_related("created_by").order_by("created_at", "pk")
            ],
            money={
                name: money_string(getattr(invoice, name), currency)
                for name in ("subtotal", "total", "credited", "creditable")
            },
            can_void=is_manager and invoice.status == InvoiceStatus.FINALIZED and not invoice.credited,
            can_credit=is_manager and invoice.status == InvoiceStatus.FINALIZED and invoice.creditable > 0,
            void_form=VoidForm(prefix="void"),
            credit_form=CreditNoteForm(prefix="credit"),
            **kwargs,
        )


@require_POST
@login_required
def invoice_void(request, pk):
    invoice = get_object_or_404(Invoice.objects.visible_to(request.user), pk=pk)
    form = VoidForm(request.POST, prefix="void")
    if form.is_valid():
        try:
            services.invoice_void(actor=request.user, invoice=invoice, reason=form.cleaned_data["reason"])
            messages.success(request, f"Invoice {invoice.number} voided.")
            return redirect(invoice)
        except ValidationError as error:
            add_errors(form, error)
    report_form_errors(request, form)
    return redirect(invoice)


@require_POST
@login_required
def invoice_credit(request, pk):
    invoice = get_object_or_404(Invoice.objects.visible_to(request.user), pk=pk)
    form = CreditNoteForm(request.POST, prefix="credit")
    if form.is_valid():
        try:
            note = services.credit_note_create(actor=request.user, invoice=invoice, **form.cleaned_data)
            messages.success(request, f"Credit note {note.number} issued.")
            return redirect(invoice)
        except ValidationError as error:
            add_errors(form, error)
    report_form_errors(request, form)
    return redirect(invoice)


# --- prepaid credits --------------------------------------------------------------------------


class CreditGrantListView(ObjectListView):
    model = CreditGrant
    table_class = CreditGrantTable
    filterset_class = CreditGrantFilterSet
    select_related = ("customer", "subscription")
    title = "Prepaid credits"
    create_url_name = "credit_pack_buy"

    def get_queryset(self):
        return super().get_queryset().with_balance()

    def can_create(self):
        return credits.can_buy_credits(self.request.user)


class CreditGrantDetailView(ObjectDetailView):
    model = CreditGrant
    select_related = ("customer", "subscription", "granted_by")
    template_name = "billing/credit_grant_detail.html"
    context_object_name = "credit_grant"

    def get_context_data(self, **kwargs):
        grant = self.object
        drawdowns = [
            {
                "drawdown": drawdown,
                "amount": money_string(drawdown.amount, grant.currency),
                "counted": drawdown.invoice.status == InvoiceStatus.FINALIZED,
            }
            for drawdown in grant.drawdowns.select_related("invoice").order_by("invoice__period", "pk")
        ]
        spent = sum((row["drawdown"].amount for row in drawdowns if row["counted"]), Decimal(0))
        return super().get_context_data(
            drawdowns=drawdowns,
            money={
                "credits": money_string(grant.credits, grant.currency),
                "price": money_string(grant.price, grant.currency),
                "spent": money_string(spent, grant.currency),
                "balance": money_string(grant.credits - spent, grant.currency),
            },
            **kwargs,
        )


class CreditPackBuyView(ObjectCreateView):
    model = CreditGrant
    form_class = CreditPackForm
    template_name = "billing/credit_pack_buy.html"

    def can_create(self):
        return credits.can_buy_credits(self.request.user)

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | {"title": "Buy a credit pack"}

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs.pop("instance", None)  # a plain form: the service makes the grant
        return kwargs

    def save(self, form):
        return credits.credit_pack_purchase(
            actor=self.request.user, subscription=form.cleaned_data["subscription"], pack=form.cleaned_data["pack"]
        )


# --- recommendations --------------------------------------------------------------------------


class RecommendationListView(ObjectListView):
    model = Recommendation
    table_class = RecommendationTable
    filterset_class = RecommendationFilterSet
    select_related = ("customer", "subscription", "current_plan_version__plan", "target_plan_version__plan")
    title = "Savings recommendations"


class RecommendationDetailView(ObjectDetailView):
    model = Recommendation
    select_related = (
        "customer__reseller", "subscription", "current_plan_version__plan", "target_plan_version__plan", "decided_by",
    )  # fmt: skip
    template_name = "billing/recommendation_detail.html"
    context_object_name = "recommendation"

    def get_context_data(self, **kwargs):
        recommendation = self.object
        currency = recommendation.currency
        rows = [
            {**figures, "invoice_url": reverse("invoice_detail", args=[figures["invoice"]])}
            for figures in recommendation.periods
        ]
        charges = sum((parse_decimal(figures["charges"]) for figures in recommendation.periods), Decimal(0))
        true_ups = sum((parse_decimal(figures["true_up"]) for figures in recommendation.periods), Decimal(0))
        credited = sum((parse_decimal(figures["credited"]) for figures in recommendation.periods), Decimal(0))
        minimum = recommendation.current_plan_version.minimum_commitment
        can_review = can_change_subscription(self.request.user, recommendation.subscription)
        return super().get_context_data(
            rows=rows,
            summary=recommendations.summary_text(recommendation),
            money={
                "actual": money_string(recommendation.actual_total, currency),
                "alternative": money_string(recommendation.alternative_total, currency),
                "saving": money_string(recommendation.saving, currency),
                "charges": money_string(charges, currency),
                "true_ups": money_string(true_ups, currency),
                "credited": money_string(credited, currency),
                "current_commitment": money_string(recommendation.current_commitment, currency)
                if recommendation.current_commitment is not None
                else "",
                "plan_minimum": money_string(minimum, currency) if minimum else "",
                "target_commitment": money_string(recommendation.target_commitment, currency)
                if recommendation.target_commitment is not None
                else "",
            },
            saving_percent=str(recommendation.saving_percent.quantize(Decimal("0.1"))),
            true_up_months=sum(1 for figures in recommendation.periods if parse_decimal(figures["true_up"])),
            # Those who may change the subscription preview the change; the others see the subscription.
            can_review=can_review,
            review_url=recommendations.review_url(recommendation)
            if can_review
            else recommendation.subscription.get_absolute_url(),
            can_dismiss=recommendations.can_dismiss(self.request.user, recommendation),
            **kwargs,
        )


@require_POST
@login_required
def recommendation_dismiss(request, pk):
    # Scoped first: another tenant's recommendation is a 404; the service answers 403 to other roles.
    recommendation = get_object_or_404(Recommendation.objects.visible_to(request.user), pk=pk)
    try:
        recommendations.recommendation_dismiss(actor=request.user, recommendation=recommendation)
        messages.success(request, f"Recommendation dismissed: {recommendation.advice}.")
    except ValidationError as error:
        for field, errors in error.message_dict.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
    return HttpResponseRedirect(recommendation.get_absolute_url())
