"""The forecast: the open period's live drafts run through the accrual's rules, stored nowhere,
each user seeing only what they would earn."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from prm.billing.services import invoice_refresh_draft
from prm.core.periods import BillingPeriod
from prm.incentives.forecast import commission_forecast, forecast_totals
from prm.incentives.models import CommissionEntry
from prm.operations.period_close import period_close
from tests import factories

API = [{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.5"}]


def _now_period() -> BillingPeriod:
    return BillingPeriod.containing(timezone.now())


def _in_period(period: BillingPeriod) -> str:
    """A moment inside the open period that has already passed."""
    now = timezone.now()
    return (period.start + (now - period.start) / 2).isoformat()


@pytest.fixture
def drafts(world, named_plan, subscribe, send, rule):
    """This period's drafts: A1 1,234.50 (2469 calls), A2 100.00 (200), B1 500.00 (1000), none finalized yet.

    Alpha resells through a distributor. Rules: 20 % revenue share, a 250 USD new-customer bonus,
    a 10 % distributor override.
    """
    period = _now_period()
    distributor = factories.PartnerFactory(name="Delta Distribution", tier=world.partner_a.tier)
    world.partner_a.parent = distributor
    world.partner_a.save()
    rule("revenue_share", rate="20")
    rule("new_customer_bonus", bonus_amount="250", currency="USD")
    rule("distributor_override", rate="10")
    plan = named_plan("api-growth", "API Growth", API)
    when = _in_period(period)
    for customer, calls in ((world.customer_a1, 2469), (world.customer_a2, 200), (world.customer_b1, 1000)):
        subscription = subscribe(plan, customer=customer, started_at=period.start)
        send((customer.external_id, "api_calls", when, {"calls": calls}))
        invoice_refresh_draft(subscription=subscription, period=period)
    return {"period": period, "distributor": distributor}


def _totals(forecast) -> dict[str, Decimal]:
    return {bucket.currency: bucket.total for bucket in forecast.currencies}


@pytest.mark.django_db
def test_each_user_sees_what_they_would_earn(world, drafts):
    period = drafts["period"]
    distributor_admin = factories.partner_admin(drafts["distributor"])
    # A: 20 % of 1,234.50 = 246.90 and of 100.00 = 20.00, plus two first-invoice bonuses of 250.00 = 766.90.
    # Rep A: only A1, assigned to them: 246.90 + 250.00 = 496.90.
    # The distributor: 10 % of 1,234.50 + 10 % of 100.00 = 123.45 + 10.00 = 133.45.
    # B: 20 % of 500.00 = 100.00 + 250.00 = 350.00. The manager: all of it, 1,250.35.
    expected = {
        world.admin_a: Decimal("766.90"),
        world.rep_a: Decimal("496.90"),
        distributor_admin: Decimal("133.45"),
        world.admin_b: Decimal("350.00"),
        world.manager: Decimal("1250.35"),
    }
    for user, total in expected.items():
        assert _totals(commission_forecast(user=user, period=period)) == {"USD": total}, user.email
    for user in (world.customer_user_a1, world.customer_viewer_a1, world.customer_user_b1):
        assert commission_forecast(user=user, period=period).is_empty
    assert not CommissionEntry.objects.exists()  # nothing stored

    forecast = commission_forecast(user=world.rep_a, period=period)
    assert forecast.drafts == 1
    share, bonus = forecast.currencies[0].entries
    assert (share.partner, share.customer, share.amount, share.invoice.status) == (
        world.partner_a, world.customer_a1, Decimal("246.90"), "draft",
    )  # fmt: skip
    assert share.explanation.startswith("20 % of 1,234.50 USD (API Growth · api_calls, ")
    assert (bonus.rule.kind, bonus.amount) == ("new_customer_bonus", Decimal("250.00"))


@pytest.mark.django_db
def test_a_customer_with_a_finalized_invoice_gets_no_projected_bonus(world, named_plan, subscribe, send, rule):
    period = _now_period()
    previous = period.previous()
    rule("new_customer_bonus", bonus_amount="250", currency="USD")
    subscription = subscribe(named_plan("api-growth", "API Growth", API), started_at=previous.start)
    period_close(period=previous)
    assert CommissionEntry.objects.get().amount == Decimal("250.00")  # earned on last period's invoice
    invoice_refresh_draft(subscription=subscription, period=period)
    assert commission_forecast(user=world.admin_a, period=period).is_empty


@pytest.mark.django_db
def test_growth_is_projected_against_the_last_closed_period(world, make_plan, subscribe, rule):
    period = _now_period()
    previous = period.previous()
    rule("growth_accelerator", rate="10")
    a1 = subscribe(make_plan("thousand", [{"model": "flat", "amount": "1000"}]), started_at=previous.start)
    a2 = subscribe(
        make_plan("five-hundred", [{"model": "flat", "amount": "500"}]), customer=world.customer_a2,
        started_at=period.start,
    )  # fmt: skip
    period_close(period=previous)
    for subscription in (a1, a2):
        invoice_refresh_draft(subscription=subscription, period=period)

    (bucket,) = commission_forecast(user=world.admin_a, period=period).currencies
    # 1,000.00 last period → 1,500.00 in the drafts: 10 % of 500.00 = 50.00.
    (growth,) = bucket.entries
    assert (growth.partner, growth.amount, growth.base_amount) == (world.partner_a, Decimal("50.00"), Decimal(500))
    assert "1,000.00 → 1,500.00 USD" in growth.explanation
    assert commission_forecast(user=world.rep_a, period=period).is_empty  # a partner's growth, not a rep's
    assert not CommissionEntry.objects.exists()


@pytest.mark.django_db
def test_forecast_api(world, client, drafts):
    period = str(drafts["period"])
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    body = client.get("/api/v1/commissions/forecast/").json()  # the current period by default
    assert body["period"] == period and body["drafts"] == 2
    (usd,) = body["currencies"]
    assert (usd["currency"], usd["total"]) == ("USD", "766.90")
    assert sorted(entry["amount"] for entry in usd["entries"]) == ["20.00", "246.90", "250.00", "250.00"]
    first = next(entry for entry in usd["entries"] if entry["amount"] == "246.90")
    assert (first["partner"], first["customer"], first["rule_code"], first["rate"], first["base_amount"]) == (
        world.partner_a.pk, world.customer_a1.pk, "revenue-share", "20", "1234.50",
    )  # fmt: skip
    assert first["invoice"] is not None and first["invoice_line"] is not None
    assert client.get("/api/v1/commissions/forecast/", {"period": period}).json() == body

    bad = client.get("/api/v1/commissions/forecast/", {"period": "2026-13"})
    assert bad.status_code == 400 and "period" in bad.json()
    client.force_login(world.customer_user_a1, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/api/v1/commissions/forecast/").json()["currencies"] == []
    client.force_login(world.admin_b, backend="django.contrib.auth.backends.ModelBackend")
    body = client.get("/api/v1/commissions/forecast/").json()
    assert body["currencies"][0]["total"] == "350.00"
    assert {entry["customer_name"] for entry in body["currencies"][0]["entries"]} == {"B1 Corp"}


@pytest.mark.django_db
def test_the_ledger_page_shows_the_forecast(world, client, drafts):
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    body = client.get(reverse("commission_list")).content.decode()
    assert "Projected this month from live usage" in body
    assert "766.90 USD" in body and "2 live invoice drafts" in body
    assert "350.00" not in body and "B1 Corp" not in body
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    assert "1,250.35 USD" in client.get(reverse("commission_list")).content.decode()
    client.force_login(world.customer_user_a1, backend="django.contrib.auth.backends.ModelBackend")
    assert "Projected this month" not in client.get(reverse("commission_list")).content.decode()


@pytest.mark.django_db
def test_a_period_without_drafts_projects_nothing(world, drafts):
    empty = commission_forecast(user=world.manager, period=drafts["period"].next())
    assert empty.is_empty and empty.drafts == 0


def _queries(call) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        result = call()
    return len(queries), result


@pytest.mark.django_db
def test_the_dashboards_totals_are_the_forecasts_and_kept_until_an_input_changes(world, drafts, send, rule):
    period = drafts["period"]
    for user in (world.admin_a, world.rep_a, world.admin_b, world.manager, world.customer_user_a1):
        totals = forecast_totals(user=user, period=period)
        forecast = commission_forecast(user=user, period=period)
        assert (totals.totals, totals.drafts) == (_totals(forecast), forecast.drafts), user.email

    # Kept: the drafts' state and the newest audit entry are all a second view reads.
    count, kept = _queries(lambda: forecast_totals(user=world.admin_a, period=period))
    assert count == 2 and kept.totals == {"USD": Decimal("766.90")}

    # A draft re-rated with more usage: the next view computes again. 20 % of 100 more calls at 0.5.
    send((world.customer_a2.external_id, "api_calls", _in_period(period), {"calls": 200}))
    invoice_refresh_draft(subscription=world.customer_a2.subscriptions.get(), period=period)
    count, fresh = _queries(lambda: forecast_totals(user=world.admin_a, period=period))
    assert count > 2 and fresh.totals == {"USD": Decimal("786.90")}
    assert fresh.totals == _totals(commission_forecast(user=world.admin_a, period=period))

    # A new rule (a configuration change, in the audit log) is seen on the next view too.
    rule("revenue_share", code="extra-share", rate="5")
    changed = forecast_totals(user=world.admin_a, period=period)
    assert changed.totals == _totals(commission_forecast(user=world.admin_a, period=period))
    assert changed.totals["USD"] > fresh.totals["USD"]

    # Each scope keeps its own: the rep's copy is not the admin's. 496.90 + 5 % of 1,234.50 = 558.63.
    assert forecast_totals(user=world.rep_a, period=period).totals == {"USD": Decimal("558.63")}
