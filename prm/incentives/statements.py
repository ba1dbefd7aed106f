"""Statements: a partner's commissions for one closed period and currency, approved, then paid.

    CommissionEntry* (no statement yet) ──statements_generate(period)──▶ Statement (draft)
    draft ──statement_approve──▶ approved (total ≥ 0)  or  carried (total < 0: nothing to pay)
    approved, total > 0 ──payout_record──▶ Payout; the statement is paid

Which statement an entry goes on:

1. the statement of its own partner · period · currency, while that statement is a draft (it is
   made when its period is generated);
2. an entry that arrives once that statement is approved, carried or paid (a late clawback: a
   credit note on an invoice whose period was already stated), or for an earlier period that has
   no statement, goes on the draft statement of the period being generated; when that one is
   closed too, it waits for the next period's generation. It keeps its own `period`, so the
   statement shows where it came from.

Entries never leave a statement, and only a draft takes new ones, so an approved statement never
changes: a statement's `total` is always exactly `carried_in` + the sum of its entries (summed as
Decimals in Python: each entry was rounded once when it accrued, and SQLite's SUM would add floats).

Carry-forward: a statement approved with a negative total becomes `carried`. Nothing is paid; its
total becomes the `carried_in` of the partner's next statement in that currency (linked by
`carried_from`), made for the next generated period even when the partner earned nothing in it,
so a negative balance is deducted from later earnings and never lost.

A zero total is approved and stays approved: there is nothing to pay, and a payout is a payment
made (its amount is > 0), so no payout is recorded for it.

Every write locks the partner's row first: it is the one mutex for that partner's statements, so
generation, approval and payouts of the same partner run one after another (SQLite already runs
one writer at a time).
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from prm.core.models import ClosedBillingPeriod
from prm.core.money import money_string
from prm.core.periods import BillingPeriod
from prm.incentives.models import CommissionEntry, Payout, Statement, StatementStatus
from prm.notifications.webhooks import portal_url, publish_event
from prm.partners.models import Partner


@dataclass
class StatementsSummary:
    period: str
    created: int = 0  # statements made by this run
    refreshed: int = 0  # drafts that took new entries or a carried balance
    entries: int = 0  # entries put on a statement by this run
    late_entries: int = 0  # of which entries of an earlier period (see the module's rule 2)
    carried: int = 0  # negative balances carried into a statement by this run
    waiting: int = 0  # entries whose statement is closed: they go on the next period's statement
    # Every statement of the period by currency, whichever run made it.
    totals: dict[str, Decimal] = field(default_factory=dict)
    statements: int = 0

    def as_dict(self) -> dict:
        return {
            "period": self.period,
            "created": self.created,
            "refreshed": self.refreshed,
            "entries": self.entries,
            "late_entries": self.late_entries,
            "carried": self.carried,
            "waiting": self.waiting,
            "statements": self.statements,
            "totals": {currency: money_string(amount, currency) for currency, amount in sorted(self.totals.items())},
        }

    def __str__(self) -> str:
        totals = ", ".join(f"{amount} {currency}" for currency, amount in self.as_dict()["totals"].items()) or "nothing"
        return (
            f"Statements {self.period}: {self.created} made and {self.refreshed} refreshed now, {self.entries} entries "
            f"stated ({self.late_entries} late), {self.carried} negative balances carried in, {self.waiting} entries "
            f"waiting for the next period; {self.statements} statements total {totals}."
        )


def statements_generate(period: BillingPeriod | str, *, actor=None) -> StatementsSummary:
    """Make or refresh the draft statements of a closed `period` (see the module's docstring).

    Idempotent: a second run finds no entry without a statement and no carried balance to link,
    and changes nothing. `actor` None is the system (period close, command, task).
    """
    if actor is not None and not actor.is_manager:
        raise PermissionDenied("Only channel managers generate statements.")
    period = _parse_period(period)
    if not ClosedBillingPeriod.objects.filter(period=str(period)).exists():
        raise ValidationError(
            {"period": f"{period} is not closed: statements are made for closed periods, whose invoices are final."}
        )
    summary = StatementsSummary(period=str(period))
    pending = (
        CommissionEntry.objects.filter(statement__isnull=True, period__lte=str(period))
        .order_by()
        .values_list("partner_id", "currency")
        .distinct()
    )
    carried = (
        Statement.objects.filter(status=StatementStatus.CARRIED, carried_to__isnull=True, period__lt=str(period))
        .order_by()
        .values_list("partner_id", "currency")
    )
    for partner_id, currency in sorted(set(pending) | set(carried)):
        with transaction.atomic():
            _generate_one(str(period), partner_id, currency, summary)

    # Summed here, not by the database: SQLite would add the decimals as floats.
    for currency, total in Statement.objects.filter(period=str(period)).values_list("currency", "total"):
        summary.totals[currency] = summary.totals.get(currency, Decimal(0)) + total
        summary.statements += 1
    return summary


def _generate_one(period: str, partner_id: int, currency: str, summary: StatementsSummary) -> None:
    _lock_partner(partner_id)
    mine = Statement.objects.filter(partner_id=partner_id, currency=currency)
    counts = dict(
        CommissionEntry.objects.filter(
            partner_id=partner_id, currency=currency, statement__isnull=True, period__lte=period
        )
        .order_by()
        .values("period")
        .annotate(n=Count("pk"))
        .values_list("period", "n")
    )
    statements = {s.period: s for s in mine.select_for_update().filter(period__in={*counts, period})}
    current = statements.get(period)
    current_open = current is None or current.status == StatementStatus.DRAFT

    # Rule 1 and 2 of the module's docstring: the period of the statement each period's entries go on.
    targets: dict[str, list[str]] = {}
    for entry_period, count in sorted(counts.items()):
        own = statements.get(entry_period)
        if own is not None and own.status == StatementStatus.DRAFT:
            targets.setdefault(entry_period, []).append(entry_period)
        elif current_open:
            targets.setdefault(period, []).append(entry_period)
        else:
            summary.waiting += count

    # A negative balance waiting to be carried goes on the first draft after it, else on this period's.
    carry = (
        mine.filter(status=StatementStatus.CARRIED, carried_to__isnull=True, period__lt=period)
        .order_by("-period")
        .first()
    )
    carry_into = None
    if carry is not None:
        later_draft = (
            mine.select_for_update()
            .filter(
                status=StatementStatus.DRAFT, carried_from__isnull=True, period__gt=carry.period, period__lte=period
            )
            .order_by("period")
            .first()
        )
        if later_draft is not None:
            statements.setdefault(later_draft.period, later_draft)
            carry_into = later_draft.period
        elif current is None:
            carry_into = period

    for target in sorted({*targets, *([carry_into] if carry_into else [])}):
        # Each target takes entries or a carried balance (or both): it changes.
        statement = statements.get(target)
        if statement is None:
            statement = Statement.objects.create(partner_id=partner_id, period=target, currency=currency)
            summary.created += 1
        else:
            summary.refreshed += 1
        if target == carry_into:
            statement.carried_from = carry
            statement.carried_in = carry.total
            summary.carried += 1
        periods = targets.get(target, [])
        if periods:
            attached = CommissionEntry.objects.filter(
                partner_id=partner_id, currency=currency, statement__isnull=True, period__in=periods
            ).update(statement=statement)
            summary.entries += attached
            summary.late_entries += sum(counts[p] for p in periods if p != target)
        _refresh_totals(statement)


def _refresh_totals(statement: Statement) -> None:
    """entries_total = the sum of its entries; total = carried_in + entries_total (Decimals, exact)."""
    amounts = CommissionEntry.objects.filter(statement=statement).values_list("amount", flat=True)
    statement.entries_total = sum(amounts, Decimal(0))
    statement.total = Decimal(statement.carried_in) + statement.entries_total
    statement.save(update_fields=["carried_from", "carried_in", "entries_total", "total"])


def statement_approve(*, actor, statement: Statement) -> Statement:
    """A manager approves a draft: approved when its total is ≥ 0, `carried` when it is negative."""
    _require_manager(actor, "approve statements")
    with transaction.atomic():
        _lock_partner(statement.partner_id)
        statement = _locked(actor, statement)
        if statement.status != StatementStatus.DRAFT:
            raise ValidationError(
                {"status": f"Only a draft statement can be approved; this one is {_status_words(statement)}."}
            )
        statement.approved_at = timezone.now()
        statement.approved_by = actor
        negative = statement.total < 0
        statement.status = StatementStatus.CARRIED if negative else StatementStatus.APPROVED
        statement.save(update_fields=["status", "approved_at", "approved_by"])
        if negative:
            _carry_forward(statement)
        # The partner's (and the vendor's) systems hear of it once this commits.
        publish_event(type="commission.statement_approved", data=_approved_event(statement),
                      partner_id=statement.partner_id)  # fmt: skip
    return statement


def _approved_event(statement: Statement) -> dict:
    """The `commission.statement_approved` webhook payload (amounts as strings)."""
    currency = statement.currency
    return {
        "statement": {
            "id": statement.pk,
            "period": statement.period,
            "currency": currency,
            "status": statement.status,
            "carried_in": money_string(Decimal(statement.carried_in), currency),
            "entries_total": money_string(Decimal(statement.entries_total), currency),
            "total": money_string(Decimal(statement.total), currency),
            "approved_at": statement.approved_at.isoformat(),
            "url": portal_url(statement.get_absolute_url()),
        },
        "partner": {"id": statement.partner_id},
    }


def _carry_forward(carried: Statement) -> None:
    """Link a carried statement into the partner's first later draft, if there is one yet."""
    draft = (
        Statement.objects.select_for_update()
        .filter(
            partner_id=carried.partner_id,
            currency=carried.currency,
            status=StatementStatus.DRAFT,
            carried_from__isnull=True,
            period__gt=carried.period,
        )
        .order_by("period")
        .first()
    )
    if draft is not None:
        draft.carried_from = carried
        draft.carried_in = carried.total
        _refresh_totals(draft)


def approval_message(statement: Statement) -> str:
    """What approving did, in words (the API's and the page's answer)."""
    total = f"{money_string(statement.total, statement.currency)} {statement.currency}"
    if statement.status == StatementStatus.CARRIED:
        carried_to = Statement.objects.filter(carried_from=statement).values_list("period", flat=True).first()
        where = f"the {carried_to} statement" if carried_to else "the next period's statement when it is made"
        return (
            f"Statement {statement.period} ({statement.currency}) has a negative total of {total}: there is nothing "
            f"to pay. It is marked carried, and the balance is deducted on {where}."
        )
    if statement.total == 0:
        return f"Statement {statement.period} ({statement.currency}) approved: its total is {total}, nothing to pay."
    return f"Statement {statement.period} approved: {total} to pay. Record the payout once it is made."


def payout_record(*, actor, statement: Statement, reference: str, paid_at: datetime | None = None) -> Payout:
    """A manager records the payment of an approved statement: its whole total, in its currency."""
    _require_manager(actor, "record payouts")
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError({"reference": "Give the payment's reference (the bank transfer's, say)."})
    if len(reference) > 200:
        raise ValidationError({"reference": "At most 200 characters."})
    now = timezone.now()
    paid_at = paid_at or now
    if timezone.is_naive(paid_at):
        raise ValidationError({"paid_at": "Give a time zone (UTC, say): a naive time is ambiguous."})
    if paid_at > now:
        raise ValidationError({"paid_at": "A payout is recorded once it is made; this time is in the future."})
    with transaction.atomic():
        _lock_partner(statement.partner_id)
        statement = _locked(actor, statement)
        if statement.status != StatementStatus.APPROVED:
            raise ValidationError(
                {"statement": f"Only an approved statement is paid; this one is {_status_words(statement)}."}
            )
        if statement.total <= 0:
            total = money_string(statement.total, statement.currency)
            raise ValidationError({"statement": f"Nothing to pay: the total is {total} {statement.currency}."})
        payout = Payout(
            statement=statement,
            amount=statement.total,
            currency=statement.currency,
            reference=reference,
            paid_at=paid_at,
            recorded_by=actor,
        )
        payout.full_clean()
        payout.save()
        statement.status = StatementStatus.PAID
        statement.save(update_fields=["status"])
    return payout


def _status_words(statement: Statement) -> str:
    if statement.status == StatementStatus.PAID:
        payout = Payout.objects.filter(statement=statement).first()
        if payout is not None:
            return f"already paid ({payout.reference}, {payout.paid_at:%Y-%m-%d})"
        return "already paid"
    if statement.status == StatementStatus.CARRIED:
        return "negative and carried to the next period (nothing to pay)"
    if statement.status == StatementStatus.APPROVED:
        return "already approved"
    return "a draft: approve it first"


def _require_manager(actor, what: str) -> None:
    if actor is None or not actor.is_authenticated or not actor.is_manager:
        raise PermissionDenied(f"Only channel managers {what}.")


def _lock_partner(partner_id: int) -> None:
    Partner.objects.select_for_update().filter(pk=partner_id).first()


def _locked(actor, statement: Statement) -> Statement:
    try:
        return Statement.objects.locked_for(actor, statement.pk)
    except Statement.DoesNotExist:
        raise ValidationError({"statement": "This statement does not exist."}) from None


def _parse_period(period: BillingPeriod | str) -> BillingPeriod:
    if isinstance(period, BillingPeriod):
        return period
    try:
        return BillingPeriod.parse(period)
    except ValueError as error:
        raise ValidationError({"period": str(error)}) from None
