"""Demo statement history: past months' statements approved, and all but the last two paid.

Runs after the seed has closed the past months and generated their statements. Through the real
services: statements of every past month but the last are approved (a negative one is carried
into the next), oldest first so a carried balance lands on a draft before that one is approved;
those of every month before the last two are paid, each with a deterministic reference
("DEMO-PAY-2026-09-<partner id>-USD"), on the 15th of the month after the statement's period.
The last month stays a draft, the one before approved and awaiting payment.

Idempotent: only drafts are approved and only approved, unpaid statements paid.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from prm.core.periods import BillingPeriod
from prm.incentives.models import Statement, StatementStatus
from prm.incentives.statements import payout_record, statement_approve


@dataclass
class StatementPaymentSeedResult:
    approved_now: int = 0
    carried_now: int = 0
    paid_now: int = 0
    approved: int = 0  # approved or paid or carried, whichever run did it
    paid: int = 0

    @property
    def line(self) -> str:
        return (
            f"Statements: {self.approved} approved (this run: {self.approved_now}, of which {self.carried_now} "
            f"negative and carried), {self.paid} paid (this run: {self.paid_now})."
        )


def demo_payout_reference(statement: Statement) -> str:
    return f"DEMO-PAY-{statement.period}-{statement.partner_id}-{statement.currency}"


def seed_statement_payments(*, actor, now: datetime) -> StatementPaymentSeedResult:
    result = StatementPaymentSeedResult()
    last = BillingPeriod.containing(now).previous()
    approve_before, pay_before = str(last), str(last.previous())
    drafts = Statement.objects.filter(status=StatementStatus.DRAFT, period__lt=approve_before).order_by(
        "period", "partner_id", "currency"
    )
    for statement in drafts:
        statement = statement_approve(actor=actor, statement=statement)
        result.approved_now += 1
        result.carried_now += statement.status == StatementStatus.CARRIED
    to_pay = Statement.objects.filter(status=StatementStatus.APPROVED, period__lt=pay_before, total__gt=0).order_by(
        "period", "partner_id", "currency"
    )
    for statement in to_pay:
        paid_at = BillingPeriod.parse(statement.period).next().start + timedelta(days=14, hours=10)
        payout_record(actor=actor, statement=statement, reference=demo_payout_reference(statement), paid_at=paid_at)
        result.paid_now += 1
    result.approved = Statement.objects.filter(period__lt=approve_before).exclude(status=StatementStatus.DRAFT).count()
    result.paid = Statement.objects.filter(status=StatementStatus.PAID).count()
    return result
