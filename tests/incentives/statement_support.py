"""Helpers for the statement tests: ledger entries made directly (accrual is tested on its own)."""

from datetime import UTC, datetime
from decimal import Decimal

from prm.billing.models import Invoice
from prm.core.models import ClosedBillingPeriod
from prm.core.money import round_money
from prm.core.periods import BillingPeriod
from prm.customers.services import subscription_create
from prm.incentives.models import CommissionEntry, CommissionRule
from prm.operations.period_close import period_close
from prm.plans.services import metric_create, plan_create
from prm.usage.ingest import events_ingest
from prm.usage.parsing import cloudevent

AUGUST, SEPTEMBER, OCTOBER = "2026-08", "2026-09", "2026-10"


def revenue_share_rule(**fields) -> CommissionRule:
    values = {
        "code": "share", "version": 1, "name": "Revenue share", "kind": "revenue_share",
        "effective_from": "2026-01", "rate": Decimal("12.5"), **fields,
    }  # fmt: skip
    code, version = values.pop("code"), values.pop("version")
    return CommissionRule.objects.get_or_create(code=code, version=version, defaults=values)[0]


def entry(partner, customer, period: str, *, base: str, rate: str = "12.5", currency: str = "USD", **links):
    """An entry earning `rate` % of `base`, rounded once to the currency's minor unit, as accrual does."""
    base_amount, percent = Decimal(base), Decimal(rate)
    return CommissionEntry.objects.create(
        partner=partner,
        customer=customer,
        rule=links.pop("rule", None) or revenue_share_rule(),
        period=period,
        currency=currency,
        base_amount=base_amount,
        rate=percent,
        amount=round_money(base_amount * percent / 100, currency),
        explanation=f"{rate} % of {base} {currency}",
        **links,
    )


def closed(*periods: str) -> None:
    for period in periods:
        ClosedBillingPeriod.objects.get_or_create(period=period)


CHARGES = [
    {"model": "graduated", "metric": "api_calls", "tiers": [
        {"up_to": 1000, "unit_amount": "0.01"}, {"up_to": None, "unit_amount": "0.005", "flat_amount": "1"},
    ]},
    {"model": "flat", "amount": "20"},
]  # fmt: skip


def finalized_october(world) -> dict[str, Invoice]:
    """October 2026 closed by the real period close: A1, A2 and B1 on one plan, A1 with 3000 API calls
    (1000 × 0.01 + 2000 × 0.005 + 1 = 21.00, plus the 20.00 flat fee); invoices by customer external id."""
    metric_create(
        actor=world.manager, code="api_calls", name="API calls", unit="call", aggregation="sum", field="calls"
    )
    plan = plan_create(actor=world.manager, code="api", name="API", currency="USD", charges=CHARGES)
    for customer in (world.customer_a1, world.customer_a2, world.customer_b1):
        subscription_create(
            actor=world.manager, plan=plan, customer=customer, external_id=f"sub_{customer.external_id}",
            started_at=datetime(2026, 10, 1, tzinfo=UTC),
        )  # fmt: skip
    event = {"specversion": "1.0", "id": "statement-ev-1", "source": "statement-tests", "type": "api_calls",
             "subject": "cus_a1", "time": "2026-10-02T10:00:00Z", "data": {"calls": 3000}}  # fmt: skip
    assert events_ingest([cloudevent(0, event)], actor=world.manager).accepted == 1
    period_close(period=BillingPeriod(2026, 10))
    return {invoice.customer.external_id: invoice for invoice in Invoice.objects.select_related("customer")}
