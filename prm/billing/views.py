from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from prm.billing import credits, services
from prm.billing.filtersets import CreditGrantFilterSet, InvoiceFilterSet
from prm.billing.forms import CreditNoteForm, CreditPackForm, VoidForm
from prm.billing.models import CreditGrant, Invoice, InvoiceStatus
from prm.billing.tables import CreditGrantTable, InvoiceTable
from prm.core.money import money_string, parse_decimal, plain_decimal
from prm.core.views import ObjectCreateView, ObjectDetailView, ObjectListView, add_errors, report_form_errors


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
