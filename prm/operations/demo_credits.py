"""Demo prepaid credits: a few customers bought a credit pack two months ago.

Bought through the real service, before the past months are closed, so the finalized invoices
of those months bill the pack and draw the credits down, and this month's draft shows what is
left. Idempotent: a customer that already bought its demo pack buys nothing more, and a pack
whose month is already closed (a demo database made before credits existed) is not bought,
since no open invoice could bill it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from prm.billing.credits import credit_pack_purchase
from prm.billing.models import CreditGrant, CreditGrantSource
from prm.core.models import ClosedBillingPeriod
from prm.core.periods import BillingPeriod
from prm.customers.models import Subscription

# Two with the demo partner admin (one also the demo rep's), one in EUR.
DEMO_BUYERS = ("cus_bluefin_analytics", "cus_harbor_labs", "cus_polder_payments")


@dataclass
class CreditSeedResult:
    grants: int = 0
    bought_now: int = 0

    @property
    def line(self) -> str:
        return f"Prepaid credits: {self.grants} demo credit packs (bought this run: {self.bought_now})."


def seed_credits(*, now: datetime, actor) -> CreditSeedResult:
    result = CreditSeedResult()
    month = BillingPeriod.containing(now).previous().previous()
    # Mid-month, so the invoice shows usage from before and after the purchase paid by it.
    bought_at = month.start + timedelta(days=14, hours=9)
    closed = ClosedBillingPeriod.objects.filter(period=str(month)).exists()
    subscriptions = (
        Subscription.objects.filter(customer__external_id__in=DEMO_BUYERS, started_at__lte=bought_at)
        .select_related("plan_version")
        .order_by("customer__external_id", "pk")
    )
    for subscription in subscriptions:
        packs = subscription.plan_version.credit_packs
        if not packs:
            continue
        if CreditGrant.objects.filter(subscription=subscription, source=CreditGrantSource.PURCHASE).exists():
            result.grants += 1
            continue
        if closed or (subscription.ended_at is not None and subscription.ended_at <= bought_at):
            continue
        with transaction.atomic():
            credit_pack_purchase(actor=actor, subscription=subscription, pack=packs[0]["name"], granted_at=bought_at)
        result.grants += 1
        result.bought_now += 1
    return result
