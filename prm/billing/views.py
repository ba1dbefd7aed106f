from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from prm.billing import services
from prm.billing.filtersets import InvoiceFilterSet
from prm.billing.forms import CreditNoteForm, VoidForm
from prm.billing.models import Invoice, InvoiceStatus
from prm.billing.tables import InvoiceTable
from prm.core.money import money_string
from prm.core.views import ObjectDetailView, ObjectListView, add_errors


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
                    "timestamp_after": invoice.service_start.isoformat(),
                    "timestamp_before": invoice.service_end.isoformat(),
                }
                usage = f"{usage_url}?{urlencode(query)}"
            lines.append({"line": line, "amount": money_string(line.amount, currency), "usage_url": usage})
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


def _report(request, form) -> None:
    for field, errors in form.errors.items():
        label = "" if field == "__all__" else f"{field}: "
        messages.error(request, f"{label}{' '.join(errors)}")


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
    _report(request, form)
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
    _report(request, form)
    return redirect(invoice)
