"""Rating: exact invoice amounts from real usage, for every charge model, proration and minimums."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from prm.billing.models import Invoice
from prm.billing.services import invoice_refresh_draft, subscription_rate
from prm.core.periods import BillingPeriod
from tests.billing.conftest import OCTOBER, at

EVERY_MODEL = [
    {"model": "per_unit", "metric": "api_calls", "unit_amount": "0.002", "free_units": "1000"},
    {"model": "graduated", "metric": "storage", "tiers": [
        {"up_to": 100, "unit_amount": "0.10"},
        {"up_to": 1000, "unit_amount": "0.05", "flat_amount": "5"},
        {"up_to": None, "unit_amount": "0.01"},
    ]},
    {"model": "volume", "metric": "seats", "tiers": [
        {"up_to": 10, "unit_amount": "8"},
        {"up_to": 50, "unit_amount": "6", "flat_amount": "10"},
        {"up_to": None, "unit_amount": "5"},
    ]},
    {"model": "package", "metric": "units", "package_size": "100", "unit_amount": "3", "free_units": "50"},
    {"model": "flat", "amount": "49"},
]  # fmt: skip


@pytest.mark.django_db
def test_every_charge_model_priced_exactly_from_usage(world, make_plan, subscribe, send):
    subscription = subscribe(make_plan("everything", EVERY_MODEL))
    send(
        ("cus_a1", "api_calls", at(2), {"calls": 5000}),
        ("cus_a1", "api_calls", at(3), {"calls": 7000}),
        ("cus_a1", "api_calls", at(31, 23), {"calls": 345}),
        ("cus_a1", "storage", at(2), {"gb": 200}),
        ("cus_a1", "storage", at(5), {"gb": 1500}),
        ("cus_a1", "storage", at(9), {"gb": 900}),
        ("cus_a1", "seats", at(2), {"seats": 20}),
        ("cus_a1", "seats", at(20), {"seats": 12}),
        ("cus_a1", "units", at(4), {"n": 301}),
        # Outside October, or another customer's: not on this invoice.
        ("cus_a1", "api_calls", "2026-11-01T00:00:00+00:00", {"calls": 99999}),
        ("cus_a2", "api_calls", at(2), {"calls": 99999}),
    )
    invoice = invoice_refresh_draft(subscription=subscription, period=OCTOBER)

    lines = list(invoice.lines.select_related("metric"))
    assert [(line.metric and line.metric.code, line.model, line.quantity, line.amount) for line in lines] == [
        ("api_calls", "per_unit", Decimal("12345"), Decimal("22.69")),  # (12345 − 1000) × 0.002
        ("storage", "graduated", Decimal("1500"), Decimal("65.00")),  # 100×0.10 + (900×0.05 + 5) + 500×0.01
        ("seats", "volume", Decimal("12"), Decimal("82.00")),  # the latest value, all at tier 2: 12×6 + 10
        ("units", "package", Decimal("301"), Decimal("9.00")),  # 251 billable → 3 started packages × 3
        (None, "flat", Decimal("1"), Decimal("49.00")),
    ]
    assert invoice.subtotal == invoice.total == Decimal("227.69")
    assert invoice.status == "draft" and invoice.number is None and invoice.currency == "USD"
    # Each line keeps what produced it: the charge and the tiers applied.
    assert lines[1].charge["model"] == "graduated" and len(lines[1].charge["tiers"]) == 3
    assert [tier["units"] for tier in lines[1].tiers] == ["100", "900", "500"]
    assert lines[1].tiers[1] == {
        "tier": 2, "up_to": "1000", "units": "900", "unit_amount": "0.05", "flat_amount": "5", "amount": "50",
    }  # fmt: skip
    assert lines[2].tiers == [
        {"tier": 2, "up_to": "50", "units": "12", "unit_amount": "6", "flat_amount": "10", "amount": "82"}
    ]
    assert "12,345 api_calls" in lines[0].description


@pytest.mark.django_db
def test_flat_fee_prorated_for_a_subscription_starting_mid_month(world, make_plan, subscribe):
    subscription = subscribe(make_plan("flat", [{"model": "flat", "amount": "100"}]), started_at="2026-10-21T00:00:00Z")
    invoice = invoice_refresh_draft(subscription=subscription, period=OCTOBER)
    # 11 of October's 31 days: 100 × 950400 s / 2678400 s = 35.483870… → 35.48
    assert invoice.total == Decimal("35.48")
    line = invoice.lines.get()
    assert line.charge["prorated"] == {"active_seconds": 950400, "period_seconds": 2678400}
    assert "prorated for 11 days of 31 days" in line.description
    assert invoice.service_start.isoformat() == "2026-10-21T00:00:00+00:00"


@pytest.mark.django_db
def test_flat_fee_prorated_for_a_subscription_ending_mid_month(world, make_plan, subscribe):
    plan = make_plan("flat", [{"model": "flat", "amount": "100"}])
    subscription = subscribe(plan, started_at="2026-09-15T00:00:00Z", ended_at="2026-10-11T12:00:00+00:00")
    # 10.5 of 31 days: 100 × 907200 / 2678400 = 33.870967… → 33.87
    assert subscription_rate(subscription=subscription, period=OCTOBER).total == Decimal("33.87")
    with pytest.raises(ValidationError) as error:
        invoice_refresh_draft(subscription=subscription, period=BillingPeriod(2026, 11))
    assert "was not active in 2026-11" in str(error.value.message_dict["period"])


@pytest.mark.django_db
def test_minimum_commitment_adds_a_true_up_line(world, make_plan, subscribe, send):
    charges = [{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01"}]
    subscription = subscribe(make_plan("committed", charges, minimum_commitment="50"))
    send(("cus_a1", "api_calls", at(2), {"calls": 1000}))
    invoice = invoice_refresh_draft(subscription=subscription, period=OCTOBER)
    assert [(line.model, line.amount) for line in invoice.lines.all()] == [
        ("per_unit", Decimal("10.00")),
        ("minimum_commitment", Decimal("40.00")),
    ]
    assert invoice.subtotal == Decimal("10.00") and invoice.total == Decimal("50.00")
    assert invoice.lines.last().charge == {"model": "minimum_commitment", "amount": "50", "source": "plan"}

    # The subscription's own commitment replaces the plan's minimum.
    subscription.commitment = Decimal("80")
    subscription.save()
    invoice = invoice_refresh_draft(subscription=subscription, period=OCTOBER)
    assert invoice.total == Decimal("80.00") and invoice.lines.last().amount == Decimal("70.00")

    # Usage above the minimum: no true-up.
    send(("cus_a1", "api_calls", at(3), {"calls": 9000}))
    invoice = invoice_refresh_draft(subscription=subscription, period=OCTOBER)
    assert [line.model for line in invoice.lines.all()] == ["per_unit"]
    assert invoice.total == Decimal("100.00")


@pytest.mark.django_db
def test_minimum_commitment_is_prorated_like_a_flat_fee(world, make_plan, subscribe):
    charges = [{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01"}]
    plan = make_plan("committed", charges, minimum_commitment="62")
    subscription = subscribe(plan, started_at="2026-10-16T00:00:00Z")
    # 16 of 31 days of a 62 minimum: exactly 32.00.
    assert invoice_refresh_draft(subscription=subscription, period=OCTOBER).total == Decimal("32.00")


@pytest.mark.django_db
def test_draft_refresh_reflects_new_usage_and_replaces_its_lines(world, make_plan, subscribe, send):
    charges = [{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01"}, {"model": "flat", "amount": "5"}]
    subscription = subscribe(make_plan("api", charges))
    send(("cus_a1", "api_calls", at(2), {"calls": 100}))
    first = invoice_refresh_draft(subscription=subscription, period=OCTOBER)
    assert first.total == Decimal("6.00")
    send(("cus_a1", "api_calls", at(3), {"calls": 250}))
    second = invoice_refresh_draft(subscription=subscription, period=OCTOBER)
    assert second.pk == first.pk and second.total == Decimal("8.50")
    assert second.lines.count() == 2 and second.lines.first().quantity == Decimal("350")
    assert second.rated_at >= first.rated_at
    assert Invoice.objects.count() == 1


@pytest.mark.django_db
def test_usage_before_the_subscription_started_is_not_billed(world, make_plan, subscribe, send):
    charges = [{"model": "per_unit", "metric": "api_calls", "unit_amount": "1"}]
    subscription = subscribe(make_plan("api", charges), started_at="2026-10-10T10:30:00Z")
    send(
        ("cus_a1", "api_calls", at(9), {"calls": 7}),  # before: another subscription's business
        ("cus_a1", "api_calls", "2026-10-10T10:05:00+00:00", {"calls": 2}),  # in the starting hour: counted
        ("cus_a1", "api_calls", at(12), {"calls": 3}),
    )
    invoice = invoice_refresh_draft(subscription=subscription, period=OCTOBER)
    assert invoice.lines.get().quantity == Decimal("5") and invoice.total == Decimal("5.00")
    assert invoice.service_start.isoformat() == "2026-10-10T10:00:00+00:00"
