"""Demo invoices: every past month closed (finalized invoices), this month's live drafts.

They are made by the real flow, `period_close` and `invoice_refresh_draft`, from the demo usage,
so the figures a demo user sees are the ones billing would produce.
"""

from dataclasses import dataclass

from django.db import transaction

from prm.billing.services import invoice_refresh_draft
from prm.core.periods import BillingPeriod
from prm.customers.models import Subscription
from prm.operations.period_close import active_subscriptions, period_close


@dataclass
class InvoiceSeedResult:
    closed_months: int = 0
    finalized_now: int = 0
    drafts: int = 0

    @property
    def line(self) -> str:
        return (
            f"Invoices: {self.closed_months} past months closed (finalized this run: {self.finalized_now}), "
            f"{self.drafts} live drafts for this month."
        )


def seed_invoices(*, now, actor) -> InvoiceSeedResult:
    result = InvoiceSeedResult()
    first = Subscription.objects.order_by("started_at").values_list("started_at", flat=True).first()
    if first is None:
        return result
    current = BillingPeriod.containing(now)
    period = BillingPeriod.containing(first)
    while period < current:
        result.finalized_now += period_close(period=period, actor=actor).finalized
        result.closed_months += 1
        period = period.next()
    for subscription in active_subscriptions(current).order_by("pk"):
        with transaction.atomic():
            invoice_refresh_draft(subscription=subscription, period=current)
        result.drafts += 1
    return result
