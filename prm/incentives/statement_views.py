"""Statement pages: the list (filters, CSV), one statement (entries by customer, each linking to the
invoice behind it; printable; its entries as CSV), and the managers' approve and record-payout forms."""

from decimal import Decimal
from itertools import groupby

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from prm.billing.models import Invoice
from prm.core.exports import table_csv_response
from prm.core.money import money_string, plain_decimal
from prm.core.views import ObjectDetailView, ObjectListView, add_errors, report_form_errors
from prm.incentives.models import CommissionEntry, Statement, StatementStatus
from prm.incentives.statement_filtersets import StatementFilterSet
from prm.incentives.statement_forms import PayoutForm, StatementApproveForm
from prm.incentives.statement_tables import StatementEntryTable, StatementTable
from prm.incentives.statements import approval_message, payout_record, statement_approve


class StatementListView(ObjectListView):
    model = Statement
    table_class = StatementTable
    filterset_class = StatementFilterSet
    select_related = ("partner", "payout")
    title = "Commission statements"


class StatementDetailView(ObjectDetailView):
    model = Statement
    select_related = ("partner", "approved_by", "carried_from", "carried_to", "payout__recorded_by")
    template_name = "incentives/statement_detail.html"

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "csv":
            self.object = self.get_object()
            table = StatementEntryTable(self._entries(), request=request)
            statement = self.object
            return table_csv_response(
                table, f"statement {statement.partner.name} {statement.period} {statement.currency}"
            )
        return super().get(request, *args, **kwargs)

    def _entries(self):
        return (
            CommissionEntry.objects.filter(statement=self.object)
            .select_related("customer", "rule", "invoice", "invoice_line__metric", "credit_note__invoice")
            .order_by("customer__name", "customer_id", "period", "pk")
        )

    def get_context_data(self, **kwargs):
        statement = self.object
        currency = statement.currency
        entries = list(self._entries())
        # Only the invoices this user may open are linked (a distributor's override entries come from its
        # resellers' customers, whose invoices it does not see): one query for the page.
        invoice_ids = {self._invoice_id(entry) for entry in entries} - {None}
        openable = set(
            Invoice.objects.visible_to(self.request.user).filter(pk__in=invoice_ids).values_list("pk", flat=True)
        )
        customers = []
        for _customer_id, group in groupby(entries, key=lambda entry: entry.customer_id):
            rows = [self._row(entry, statement, openable) for entry in group]
            subtotal = sum((row["entry"].amount for row in rows), Decimal(0))
            customers.append(
                {"customer": rows[0]["entry"].customer, "rows": rows, "subtotal": money_string(subtotal, currency)}
            )
        user = self.request.user
        payout = getattr(statement, "payout", None)
        return super().get_context_data(
            customers=customers,
            entry_count=len(entries),
            money={
                name: money_string(getattr(statement, name), currency)
                for name in ("carried_in", "entries_total", "total")
            },
            payout=payout,
            payout_amount=money_string(payout.amount, currency) if payout else None,
            carried_to=getattr(statement, "carried_to", None),
            history=self._history(statement, payout),
            can_approve=user.is_manager and statement.status == StatementStatus.DRAFT,
            can_pay=user.is_manager and statement.status == StatementStatus.APPROVED and statement.total > 0,
            approve_form=StatementApproveForm(prefix="approve"),
            payout_form=PayoutForm(prefix="payout"),
            **kwargs,
        )

    @staticmethod
    def _invoice_id(entry):
        if entry.invoice_id:
            return entry.invoice_id
        return entry.credit_note.invoice_id if entry.credit_note_id else None

    def _row(self, entry, statement, openable):
        invoice = entry.invoice or (entry.credit_note.invoice if entry.credit_note_id else None)
        return {
            "entry": entry,
            "invoice": invoice,
            "invoice_url": invoice.get_absolute_url() if invoice is not None and invoice.pk in openable else None,
            "late": entry.period != statement.period,
            "base_amount": money_string(entry.base_amount, entry.currency),
            "rate": plain_decimal(entry.rate) if entry.rate is not None else None,
            "amount": money_string(entry.amount, entry.currency),
        }

    @staticmethod
    def _history(statement, payout):
        currency = statement.currency
        history = [{"at": statement.created_at, "text": "Draft made from the commission ledger."}]
        if statement.carried_from_id:
            history.append(
                {
                    "at": statement.carried_from.approved_at,
                    "text": f"Negative balance of {money_string(statement.carried_in, currency)} {currency} carried in "
                    f"from the {statement.carried_from.period} statement.",
                    "url": statement.carried_from.get_absolute_url(),
                }
            )
        approver = statement.approved_by.display_name if statement.approved_by else "a channel manager"
        if statement.status == StatementStatus.CARRIED:
            history.append(
                {"at": statement.approved_at, "text": f"Negative: nothing to pay; marked carried by {approver}."}
            )
        elif statement.approved_at:
            history.append({"at": statement.approved_at, "text": f"Approved by {approver}."})
        if payout is not None:
            history.append(
                {
                    "at": payout.paid_at,
                    "text": f"Paid {money_string(payout.amount, currency)} {currency}, reference {payout.reference}.",
                }
            )
        return history


@require_POST
@login_required
def statement_approve_view(request, pk):
    statement = get_object_or_404(Statement.objects.visible_to(request.user), pk=pk)
    form = StatementApproveForm(request.POST, prefix="approve")
    if form.is_valid():
        try:
            statement = statement_approve(actor=request.user, statement=statement)
            messages.success(request, approval_message(statement))
            return redirect(statement)
        except ValidationError as error:
            add_errors(form, error)
    report_form_errors(request, form)
    return redirect(statement)


@require_POST
@login_required
def statement_payout_view(request, pk):
    statement = get_object_or_404(Statement.objects.visible_to(request.user), pk=pk)
    form = PayoutForm(request.POST, prefix="payout")
    if form.is_valid():
        try:
            payout = payout_record(actor=request.user, statement=statement, **form.cleaned_data)
            messages.success(
                request,
                f"Payout of {money_string(payout.amount, payout.currency)} {payout.currency} recorded "
                f"({payout.reference}); the statement is paid.",
            )
            return redirect(statement)
        except ValidationError as error:
            add_errors(form, error)
    report_form_errors(request, form)
    return redirect(statement)
